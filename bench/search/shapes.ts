/**
 * The query shapes the benchmark measures. Each has a few variants (different words or tags,
 * all from the generated vocabulary), requested in turn, so no single query is cached or
 * planned once. `goal`: part of the goal (p95 ≤ 10 ms); the others are reported as degenerate.
 */
export interface SearchQuery {
  q?: string;
  tags?: string[];
  limit?: number;
  offset?: number;
}

export interface Shape {
  name: string;
  what: string;
  goal: boolean;
  variants: SearchQuery[];
}

const words = (list: string[], extra: Omit<SearchQuery, "q"> = {}): SearchQuery[] =>
  list.map((q) => ({ q, ...extra }));

export const SHAPES: Shape[] = [
  {
    name: "common",
    what: "one common word (10–45 % of agents match)",
    goal: true,
    variants: words(["typescript", "review", "python", "testing", "kubernetes"]),
  },
  {
    name: "rare",
    what: "one rare word (~0.2 % match)",
    goal: true,
    variants: words(["webassembly", "keycloak", "semgrep", "clickhouse", "verilog"]),
  },
  {
    name: "multi",
    what: "several words, all required",
    goal: true,
    variants: words([
      "python django",
      "review typescript pull requests",
      "kubernetes helm charts",
      "security vulnerabilities go",
      "flaky tests jest",
    ]),
  },
  {
    name: "prefix",
    what: "a partial word, as a person types",
    goal: true,
    variants: words(["typescr", "kube", "refact", "postgr", "webassem"]),
  },
  {
    name: "tag",
    what: "one tag, no text",
    goal: true,
    variants: [["typescript"], ["security"], ["kafka"], ["cobol"], ["c++"]].map((tags) => ({
      tags,
    })),
  },
  {
    name: "tags2",
    what: "two tags, no text",
    goal: true,
    variants: [
      ["typescript", "testing"],
      ["python", "django"],
      ["security", "go"],
      ["kafka", "database"],
      ["cobol", "migration"],
    ].map((tags) => ({ tags })),
  },
  {
    name: "tag+q",
    what: "one tag and a word",
    goal: true,
    variants: [
      { q: "review", tags: ["python"] },
      { q: "migrates", tags: ["database"] },
      { q: "flaky", tags: ["testing"] },
      { q: "terraform", tags: ["devops"] },
      { q: "leaks", tags: ["rust"] },
    ],
  },
  {
    name: "tags2+q",
    what: "two tags and a word",
    goal: true,
    variants: [
      { q: "review", tags: ["python", "code-review"] },
      { q: "deploys", tags: ["kubernetes", "devops"] },
      { q: "graphql", tags: ["api", "backend"] },
      { q: "accessibility", tags: ["frontend", "react"] },
      { q: "profiles", tags: ["performance", "go"] },
    ],
  },
  {
    name: "empty",
    what: "no text, no tags: newest first",
    goal: true,
    variants: [{}, { limit: 50 }, { limit: 100 }, { offset: 20 }, { offset: 40 }],
  },
  {
    name: "deep",
    what: "a deep page (offset)",
    goal: true,
    variants: [
      { offset: 5000 },
      { offset: 20_000 },
      { tags: ["python"], offset: 2000 },
      { q: "typescript", offset: 500 },
      { q: "review", tags: ["python"], offset: 200 },
    ],
  },
  {
    name: "substring",
    what: "the middle of a word",
    goal: true,
    variants: words(["ypescrip", "ubernete", "factor", "ostgre", "ebassembl"]),
  },
  {
    name: "short",
    what: "one or two characters, or punctuation (no trigram to index)",
    goal: false,
    variants: words(["go", "ts", "c#", "_", "zq"]),
  },
];

/** The query string of a search request. */
export function searchPath(query: SearchQuery): string {
  const params = new URLSearchParams();
  if (query.q !== undefined) params.set("q", query.q);
  for (const tag of query.tags ?? []) params.append("tag", tag);
  if (query.limit !== undefined) params.set("limit", String(query.limit));
  if (query.offset !== undefined) params.set("offset", String(query.offset));
  const text = params.toString();
  return `/v1/agents/search${text ? `?${text}` : ""}`;
}
