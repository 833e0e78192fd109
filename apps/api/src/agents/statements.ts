/**
 * The SQL text of the agents module that needs no database: the columns of an agent card, and
 * the catalogue search (how and why: README.md in this folder). `sql.ts` runs them.
 *
 * The search reaches agents through an index for every query shape, and neither ranks nor
 * counts every match:
 * - words: the GIN index on `search_vector` (with `tags`), exact lexemes only (a prefix there
 *   would make the index read every lexeme it starts);
 * - substrings, and the word being typed: the pg_trgm GIN indexes on `search_text` and
 *   `lower(name)` (with `tags`);
 * - tags alone and newest first: `agents_newest` (with `tags` included);
 * - text with tags that few agents have all of (NARROW_TAGGED): those agents through the tags'
 *   GIN index, the text checked on each.
 * A word and its substring are one condition (`OR`): for a common word the planner walks
 * `agents_newest` and stops after a few rows; for a rare one it collects the matches of both
 * GIN indexes as one bitmap and sorts those, each match read once.
 *
 * This file imports nothing: bench/search explains these exact statements, importing them as
 * `@agnt/api/search-statements` (the one export of the API package, for the benchmark).
 */

/** How long after its last call an executor instance still counts as online. */
export const ONLINE_WINDOW_SECONDS = 90;

/** Executor instances of the agent `agentId` (a SQL expression) seen within the window. */
export function executorsOnline(agentId: string): string {
  return `(SELECT count(*)::int FROM executor_instances e
    WHERE e.agent_id = ${agentId} AND e.last_seen_at > now() - interval '${ONLINE_WINDOW_SECONDS} seconds')`;
}

/** The columns of an agent card (sql.ts AgentRow), from `agents a JOIN accounts p` (the owner). */
export const AGENT_COLUMNS = `a.agent_id, a.owner_account_id, a.slug, a.name, a.description, a.tags, a.pricing,
  a.input_schema, a.output_schema, p.name AS provider_name, a.default_timeout_seconds,
  a.max_timeout_seconds, ${executorsOnline("a.agent_id")} AS executors_online, a.created_at, a.updated_at`;

/**
 * How many of the newest matches are ranked by relevance, and how far the total is counted:
 * past it, `total` is a lower bound. Counting further would read every match up to the cap
 * (a thousand matches of a common word cost several milliseconds here), while these come
 * with the ranking for free.
 */
export const RANKED = 100;
/** How many of the newest name matches are ranked too, however old. */
export const NAME_RANKED = 20;
/** Text with no trigram matches substrings only among this many newest agents. */
export const SHORT_TEXT_WINDOW = 5000;
/**
 * How many times the rows it needs a branch asks for (only what is needed is read): the
 * planner costs a walk of agents_newest for the rows asked, or collecting every match from a
 * GIN index, by its estimate of how many agents match. It underrates what the filter costs per
 * walked row, so without a margin it walks for words too rare to walk for; each estimate errs
 * its own way, so each kind of branch has its own margin:
 * - a word or its substring (`OR`): the two match mostly the same agents, and the planner,
 *   taking them for independent, counts them twice;
 * - several words (all required): it takes them for independent too, so it underrates how
 *   often words used together (a phrase) match, and would collect thousands: no margin;
 * - a word, and a substring in the short-text window: separate branches;
 * - old name matches (`named`): its outer LIMIT still lets the planner cost the walk for the
 *   NAME_RANKED rows it keeps.
 */
const MARGIN = { either: 4, words: 1, separate: 2, name: 4 } as const;

/**
 * A text with tags is checked on each agent that has the tags (narrowed), instead of being
 * looked up in the text indexes, when no more than this many agents have them all. Reading a
 * tagged agent and checking the text on it costs a few microseconds (4–5 on a busy two-core
 * machine), so a narrowed search is bounded, whatever the text and however large the
 * catalogue; a common word's or substring's index entries cost as much to read at 100,000
 * agents, and more as the catalogue grows. Past it, the text indexes find the matches (the tags are
 * keys of the same index scans) or agents_newest is walked, as without tags.
 */
export const NARROW_TAGGED = 2000;

/** Whether a search with text and `tagged` agents having its tags is narrowed (NARROW_TAGGED). */
export function narrows(tagged: number | undefined): boolean {
  return tagged !== undefined && tagged <= NARROW_TAGGED;
}

/** A condition one branch of newestMatches walks or collects, and its margin (MARGIN). */
interface Branch {
  condition: string;
  margin: number;
}

/** A statement and its parameters. */
export interface Statement {
  text: string;
  values: unknown[];
}

const NEWEST = "ORDER BY a.created_at DESC, a.agent_id DESC";

/** `%`, `_` and `\` stand for themselves in a LIKE pattern built from user text. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const WORD = /[\p{L}\p{N}]+/gu;
const quoted = (word: string, prefix = false) => `'${word}'${prefix ? ":*" : ""}`;

/**
 * How a text is looked for, before PostgreSQL normalizes its words. Words are the runs of
 * letters and digits, each quoted, so user text never reaches tsquery syntax.
 * - Several plain words (`python django`, `review typescr`): every word, the last one as a
 *   prefix while it is being typed (the text ends in it).
 * - One word, or text with punctuation (`typescr`, `snake_case`, `100%`, `node.js`): its words,
 *   or the whole text as a substring of name, tags or description; the substring covers the
 *   word being typed. Text with no three letters or digits in a row (`go`, `_`) has no
 *   trigram: its substring is looked for among the SHORT_TEXT_WINDOW newest agents only.
 */
export interface TextPlan {
  /** The text, lowercased. */
  lower: string;
  /** `to_tsquery` input of the words found through the index (exact lexemes); `''`: none. */
  words: string;
  /** `to_tsquery` input of the word being typed (several plain words only); `''`: none. */
  typed: string;
  /** `to_tsquery` input the rank uses: every word, the last a prefix while typed. */
  rank: string;
  /** The substring branch: through trigrams, in the short-text window, or none. */
  substring: "trigram" | "window" | "none";
  /** Whether trigrams can find the text: it has three letters or digits in a row. */
  indexable: boolean;
}

/** How a text is looked for (see TextPlan). */
export function planText(text: string): TextPlan {
  const lower = text.toLowerCase();
  const words = lower.match(WORD) ?? [];
  const typing = /[\p{L}\p{N}]$/u.test(lower);
  const chunks = lower.split(/\s+/);
  const plain = chunks.length > 1 && chunks.every((chunk) => /^[\p{L}\p{N}]+$/u.test(chunk));
  const rank = words.map((w, i) => quoted(w, typing && i === words.length - 1)).join(" & ");
  const indexable = words.some((w) => [...w].length >= 3);
  if (plain) {
    const last = typing ? words.length - 1 : words.length;
    return {
      lower,
      words: words
        .slice(0, last)
        .map((w) => quoted(w))
        .join(" & "),
      typed: typing ? quoted(words[last] as string, true) : "",
      rank,
      substring: "none",
      indexable,
    };
  }
  return {
    lower,
    words: words.map((w) => quoted(w)).join(" & "),
    typed: "",
    rank,
    substring: indexable ? "trigram" : "window",
    indexable,
  };
}

/** A text ready to search with: its plan with normalized tsqueries, and the window's start. */
export interface SearchText extends TextPlan {
  /** created_at of the SHORT_TEXT_WINDOW-th newest agent (`window` substrings only). */
  cutoff?: Date | undefined;
}

/**
 * Normalizes the plan's words with PostgreSQL's English configuration (stems; stop words
 * dropped, `''` when nothing is left) and, for a text with no trigram, finds where the
 * short-text window starts. The search statements then see constant tsqueries.
 */
export function textStatement(plan: TextPlan): Statement {
  const cutoff = `,
       (SELECT a.created_at FROM agents a ${NEWEST} OFFSET ${SHORT_TEXT_WINDOW - 1} LIMIT 1) AS cutoff`;
  return {
    text: `SELECT to_tsquery('english', $1)::text AS words, to_tsquery('english', $2)::text AS typed,
       to_tsquery('english', $3)::text AS rank${plan.indexable ? "" : cutoff}`,
    values: [plan.words, plan.typed, plan.rank],
  };
}

/** What textStatement returns. */
export interface TextRow {
  words: string;
  typed: string;
  rank: string;
  cutoff?: Date | null;
}

/** How many agents have every one of `tags`, counted up to NARROW_TAGGED + 1. */
export function taggedStatement(tags: string[]): Statement {
  return {
    text: `SELECT count(*)::int AS tagged
  FROM (SELECT FROM agents a WHERE a.tags @> $1::text[] LIMIT ${NARROW_TAGGED + 1}) m`,
    values: [tags],
  };
}

/** The text as searched: the plan with what textStatement returned. */
export function resolveText(plan: TextPlan, row: TextRow): SearchText {
  const text: SearchText = { ...plan, words: row.words, typed: row.typed, rank: row.rank };
  if (row.cutoff) text.cutoff = row.cutoff;
  if (!text.words && text.typed) {
    // Only stop words before the typed word: the index goes by the typed word.
    text.words = text.typed;
    text.typed = "";
  }
  // Several plain words, all of them stop words: look for the text itself.
  if (!text.words && text.substring === "none") {
    text.substring = text.indexable ? "trigram" : "window";
  }
  return text;
}

/** Collects parameters; the same value is sent once and referred to by the same `$n`. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    const found = this.values.indexOf(value);
    if (found >= 0) return `$${found + 1}`;
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** The conditions of a text on `agents a`; each adds its parameters when asked for. */
interface TextConditions {
  /**
   * What a match meets, one branch of newestMatches each: its words through the GIN
   * index (and the typed word, checked on the rows found), or its substring in name, tags or
   * description. Words and a trigram substring are one branch (`OR`: one walk, or one bitmap
   * of both indexes, each match read once); a substring in the short-text window is a branch
   * of its own, so that a rare word is not looked for by walking the whole catalogue.
   */
  branches: () => Branch[];
  /** Its substring in the name (not for the window: its branch reads the same rows). */
  name?: () => string;
  /** The name contains the text: the bonus, computed on a few candidates only. */
  nameBonus: () => string;
  /** Narrowed only: what the pool of tagged agents computes for each (`hit`, `name_hit`). */
  pool?: () => string[];
}

function textConditions(params: Params, text: SearchText, narrow: boolean): TextConditions {
  const tsquery = (value: string) => `${params.add(value)}::tsquery`;
  // ts_match_vq is @@ spelled as a function: no index claims it, so it filters the rows found.
  const typed = () =>
    text.typed ? ` AND ts_match_vq(a.search_vector, ${tsquery(text.typed)})` : "";
  const words = () => {
    if (!text.words) return "";
    const match = narrow
      ? `ts_match_vq(a.search_vector, ${tsquery(text.words)})`
      : `a.search_vector @@ ${tsquery(text.words)}`;
    return `${match}${typed()}`;
  };
  if (narrow) return narrowConditions(params, text, words);
  if (text.substring === "window") {
    // No trigram: strpos, which no trigram index claims, over the newest agents only.
    const lower = () => params.add(text.lower);
    const window = () => (text.cutoff ? `a.created_at >= ${params.add(text.cutoff)} AND ` : "");
    return {
      branches: () =>
        [words(), `${window()}strpos(a.search_text, ${lower()}) > 0`]
          .filter(Boolean)
          .map((condition) => ({ condition, margin: MARGIN.separate })),
      nameBonus: () => `strpos(lower(a.name), ${lower()}) > 0`,
    };
  }
  const like = () => params.add(`%${escapeLike(text.lower)}%`);
  const nameBonus = () => `lower(a.name) LIKE ${like()} ESCAPE '\\'`;
  if (text.substring === "none") {
    return { branches: () => [{ condition: words(), margin: MARGIN.words }], nameBonus };
  }
  return {
    branches: () => {
      const substring = `a.search_text LIKE ${like()} ESCAPE '\\'`;
      const word = words();
      return [{ condition: word ? `(${word} OR ${substring})` : substring, margin: MARGIN.either }];
    },
    name: nameBonus,
    nameBonus,
  };
}

/**
 * The conditions of a text checked on each agent the tags find (no index claims them), once
 * per agent, as the pool of tagged agents is read (`hit`, and `name_hit` for the name
 * matches): one branch. The window still bounds a text with no trigram, so that the matches
 * do not depend on which way they were found.
 */
function narrowConditions(params: Params, text: SearchText, words: () => string): TextConditions {
  const lower = () => params.add(text.lower);
  const window = () =>
    text.substring === "window" && text.cutoff
      ? `a.created_at >= ${params.add(text.cutoff)} AND `
      : "";
  const nameBonus = () => `strpos(lower(a.name), ${lower()}) > 0`;
  const hit = () => {
    const word = words();
    if (text.substring === "none") return word;
    const substring = `${window()}strpos(a.search_text, ${lower()}) > 0`;
    return word ? `(${substring}) OR ${word}` : substring;
  };
  const trigram = text.substring === "trigram";
  return {
    pool: () => [`(${hit()}) AS hit`, ...(trigram ? [`${nameBonus()} AS name_hit`] : [])],
    branches: () => [{ condition: "a.hit", margin: 1 }],
    ...(trigram ? { name: () => "a.name_hit" } : {}),
    nameBonus,
  };
}

/** What the ranking reads of a match. */
const CANDIDATE = ["a.agent_id", "a.created_at", "a.name", "a.search_vector"];

/** `columns` of the agents meeting `conditions` (joined by AND). */
function select(columns: string[], conditions: (string | undefined)[], from: string): string {
  return `SELECT ${columns.join(", ")} FROM ${from} WHERE ${conditions.filter(Boolean).join(" AND ")}`;
}

/**
 * The newest `n` agents matching one of `branches` and the tags. Each branch is walked newest
 * first, or collected and sorted when the planner expects few; several are merged, each agent
 * once. The planner costs each branch for its margin times `n` rows: the row numbers stop at
 * `n` without letting it cost the walks for `n` rows only (as an outer LIMIT would).
 */
function newestMatches(
  branches: Branch[],
  tags: string | undefined,
  n: number,
  columns: string[],
  from: string,
): string {
  const limited = branches.map(
    ({ condition, margin }) =>
      `(${select(columns, [condition, tags], from)} ${NEWEST} LIMIT ${n * margin})`,
  );
  const merged =
    limited.length === 1
      ? limited[0]
      : `SELECT DISTINCT ON (m.created_at, m.agent_id) m.* FROM (
      ${limited.join("\n      UNION ALL\n      ")}
    ) m ORDER BY m.created_at DESC, m.agent_id DESC`;
  const names = columns.map((column) => column.replace(/^a\./, "m."));
  return `SELECT ${names.join(", ")} FROM (
    SELECT m.*, row_number() OVER (ORDER BY m.created_at DESC, m.agent_id DESC) AS nth
    FROM (${merged}) m
  ) m WHERE m.nth <= ${n}`;
}

/**
 * The page's cards in the order `page` gives (its `part` and `score` when `ranked`), each row
 * with `total`; one row of nulls but `total` when the page is empty.
 */
function cards(ctes: string, total: string, ranked: boolean): string {
  const order = ranked
    ? "c.sort_part, c.sort_score DESC, c.created_at DESC, c.agent_id DESC"
    : "c.created_at DESC, c.agent_id DESC";
  return `WITH ${ctes}
SELECT t.total, c.* FROM (SELECT (${total})::int AS total) t
LEFT JOIN (
  SELECT ${AGENT_COLUMNS}${ranked ? ", page.part AS sort_part, page.score AS sort_score" : ""}
  FROM page JOIN agents a ON a.agent_id = page.agent_id
  JOIN accounts p ON p.account_id = a.owner_account_id
) c ON true
ORDER BY ${order}`;
}

/**
 * One page of matching agents. Without text: newest first. With text: first the RANKED newest
 * matches and the NAME_RANKED newest name matches, by relevance (full-text rank, plus 1 when
 * the name contains the text), then every other match, newest first. agent_id breaks ties.
 * Every row also carries `total`: the matches, counted up to RANKED + 1. `narrow`: the text is
 * checked on each tagged agent (NARROW_TAGGED); the page is the same either way.
 */
export function searchStatement(
  tags: string[],
  page: { limit: number; offset: number },
  text?: SearchText,
  narrow = false,
): Statement {
  const params = new Params();
  const tagged = tags.length ? `a.tags @> ${params.add(tags)}::text[]` : undefined;
  if (!text) {
    const where = tagged ? `WHERE ${tagged}` : "";
    const ctes = `page AS (
  SELECT a.agent_id, a.created_at FROM agents a ${where}
  ${NEWEST} LIMIT ${params.add(page.limit)} OFFSET ${params.add(page.offset)}
)`;
    const total = `SELECT count(*) FROM (SELECT 1 FROM agents a ${where} LIMIT ${RANKED + 1}) m`;
    return { text: cards(ctes, total, false), values: params.values };
  }
  const narrowed = narrow && tagged !== undefined;
  const c = textConditions(params, text, narrowed);
  // Narrowed: the tagged agents, read once, then the text checked on each.
  const from = narrowed ? "tagged a" : "agents a";
  const filter = narrowed ? undefined : tagged;
  const limit = params.add(page.limit);
  const offset = params.add(page.offset);
  const rank = text.rank
    ? `ts_rank_cd(a.search_vector, ${params.add(text.rank)}::tsquery, 1) + `
    : "";
  // Pages past the ranked head: the other matches, newest first. There are any only when
  // `recent` is full; they are older than its oldest (its newer ones are all in it), and the
  // head has more than RANKED agents, at most NAME_RANKED of them older still.
  const older = `(a.created_at, a.agent_id) < ((SELECT created_at FROM oldest), (SELECT agent_id FROM oldest))`;
  const wanted = page.offset + page.limit - (RANKED + 1) + NAME_RANKED;
  const tail =
    page.offset + page.limit > RANKED
      ? `SELECT t.agent_id, t.created_at
    FROM (${newestMatches(c.branches(), [older, filter].filter(Boolean).join(" AND "), wanted, ["a.agent_id", "a.created_at"], from)}) t
    WHERE (SELECT count(*) FROM recent) > ${RANKED}
      AND ${offset}::int + ${limit}::int > (SELECT count(*) FROM head)
      AND NOT EXISTS (SELECT 1 FROM head h WHERE h.agent_id = t.agent_id)`
      : undefined;
  const named = c.name
    ? `SELECT * FROM (${select(CANDIDATE, [`(SELECT count(*) FROM recent) > ${RANKED}`, c.name(), filter], from)} ${NEWEST} LIMIT ${NAME_RANKED * MARGIN.name}) n
  ORDER BY n.created_at DESC, n.agent_id DESC LIMIT ${NAME_RANKED}`
    : `SELECT ${CANDIDATE.join(", ")} FROM agents a WHERE false`;
  const pool = c.pool
    ? `tagged AS MATERIALIZED (
  SELECT ${[...CANDIDATE, ...c.pool()].join(", ")} FROM agents a WHERE ${tagged}
), `
    : "";
  const ctes = `${pool}recent AS MATERIALIZED (
  ${newestMatches(c.branches(), filter, RANKED + 1, CANDIDATE, from)}
), oldest AS (
  SELECT created_at, agent_id FROM recent ORDER BY created_at, agent_id LIMIT 1
), named AS MATERIALIZED (
  ${named}
), head AS MATERIALIZED (
  SELECT a.agent_id, a.created_at,
    (${rank}CASE WHEN ${c.nameBonus()} THEN 1 ELSE 0 END)::float8 AS score
  FROM (SELECT * FROM recent
        UNION ALL
        SELECT * FROM named WHERE agent_id NOT IN (SELECT agent_id FROM recent)) a
), page AS (
  SELECT agent_id, created_at, 0 AS part, score FROM head${
    tail ? `\n  UNION ALL\n  SELECT agent_id, created_at, 1, 0::float8 FROM (${tail}) tail` : ""
  }
  ORDER BY part, score DESC, created_at DESC, agent_id DESC
  LIMIT ${limit} OFFSET ${offset}
)`;
  return { text: cards(ctes, "SELECT count(*) FROM recent", true), values: params.values };
}
