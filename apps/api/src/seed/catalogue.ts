import type { AgentInput } from "../agents/service.ts";

/** The demo provider that owns the seeded agents. Fixed, so seeding is idempotent. */
export const DEMO_PROVIDER = {
  accountId: "5eed0000-0000-4000-8000-000000000001",
  role: "provider" as const,
  name: "agnt Labs (demo provider)",
};

type CatalogueAgent = Omit<AgentInput, "ownerAccountId">;

const LANGUAGE = {
  type: "string",
  enum: ["typescript", "javascript", "python", "go", "rust", "java"],
  description: "Main language of the code.",
};

const PATHS = {
  type: "array",
  items: { type: "string", minLength: 1 },
  maxItems: 200,
  description: "Paths or globs, relative to the input files' root.",
};

const REPORT_OUTPUT = (extra: Record<string, unknown>) => ({
  type: "object",
  required: ["summary"],
  properties: {
    summary: { type: "string", description: "What was done, in a few paragraphs (summary.md)." },
    ...extra,
  },
});

const PATCH = {
  type: "string",
  description: "A unified diff against the input files (changes.patch).",
};

/** The demo catalogue: realistic specialised agents, each with a typed input schema. */
export const CATALOGUE: CatalogueAgent[] = [
  {
    slug: "refactor-pilot",
    name: "Refactor Pilot (Claude Code)",
    description:
      "Restructures a module without changing behaviour: splits god files, untangles circular imports, names things after what they do, and keeps the test suite green at every step. Runs Claude Code in a sandboxed work dir with edits limited to the paths you name; returns a patch and a change log.",
    tags: ["refactoring", "claude-code", "typescript", "python", "maintainability"],
    pricing: { model: "per_job", amount_cents: 400, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["language", "target"],
      additionalProperties: false,
      properties: {
        language: LANGUAGE,
        target: { type: "string", minLength: 1, description: "File or folder to refactor." },
        goal: {
          type: "string",
          enum: ["readability", "modularity", "performance"],
          default: "modularity",
        },
        max_changed_files: { type: "integer", minimum: 1, maximum: 100, default: 20 },
        test_command: {
          type: "string",
          description: "Command that must pass before and after, e.g. `npm test`.",
        },
      },
    },
    outputSchema: REPORT_OUTPUT({ patch: PATCH }),
  },
  {
    slug: "test-writer",
    name: "Test Writer (Codex)",
    description:
      "Writes unit tests for untested code paths using your framework and conventions, runs them, and keeps only tests that pass and fail for the right reason (each new test is checked against a mutated copy of the code). Powered by OpenAI Codex CLI.",
    tags: ["testing", "unit-tests", "codex", "coverage"],
    pricing: { model: "per_job", amount_cents: 300, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["language", "framework"],
      additionalProperties: false,
      properties: {
        language: LANGUAGE,
        framework: {
          type: "string",
          minLength: 1,
          description: "vitest, jest, pytest, go test, …",
        },
        paths: PATHS,
        coverage_target: {
          type: "integer",
          minimum: 0,
          maximum: 100,
          description: "Line coverage to reach, in percent.",
        },
      },
    },
    outputSchema: REPORT_OUTPUT({ patch: PATCH, coverage_percent: { type: "number" } }),
  },
  {
    slug: "docs-writer",
    name: "Docs Writer (Gemini CLI)",
    description:
      "Reads the code and writes the documentation people actually need: a README with a working quickstart, API reference from the public surface, and an architecture overview. Checks every command it documents by running it. Powered by Gemini CLI.",
    tags: ["documentation", "readme", "gemini", "technical-writing"],
    pricing: { model: "per_job", amount_cents: 250, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["audience"],
      additionalProperties: false,
      properties: {
        audience: { type: "string", enum: ["users", "contributors", "operators"] },
        format: { type: "string", enum: ["markdown", "asciidoc", "rst"], default: "markdown" },
        sections: { type: "array", items: { type: "string" }, maxItems: 20 },
      },
    },
    outputSchema: REPORT_OUTPUT({ files: { type: "array", items: { type: "string" } } }),
  },
  {
    slug: "code-review",
    name: "Code Reviewer",
    description:
      "Reviews a diff or a set of files like a senior engineer: correctness bugs, security holes (injection, path traversal, secrets), race conditions and missing tests, each finding with file, line, severity and a suggested fix. Read-only: never changes your code.",
    tags: ["code-review", "security", "bugs", "static-analysis"],
    pricing: { model: "per_job", amount_cents: 200, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["focus"],
      additionalProperties: false,
      properties: {
        focus: {
          type: "array",
          minItems: 1,
          uniqueItems: true,
          items: {
            type: "string",
            enum: ["correctness", "security", "performance", "concurrency", "style"],
          },
        },
        severity_threshold: {
          type: "string",
          enum: ["info", "warning", "error"],
          default: "warning",
        },
        language: LANGUAGE,
      },
    },
    outputSchema: REPORT_OUTPUT({
      findings: {
        type: "array",
        items: {
          type: "object",
          required: ["file", "severity", "message"],
          properties: {
            file: { type: "string" },
            line: { type: "integer" },
            severity: { type: "string", enum: ["info", "warning", "error"] },
            message: { type: "string" },
            suggestion: { type: "string" },
          },
        },
      },
    }),
  },
  {
    slug: "failing-test-fixer",
    name: "Failing Test Fixer (Claude Code)",
    description:
      "Give it a red test command; it reproduces the failure, finds the root cause, and fixes the code (not the test) with the smallest change that turns the suite green. Explains the cause in plain words. Powered by Claude Code.",
    tags: ["debugging", "bug-fix", "ci", "claude-code"],
    pricing: { model: "per_job", amount_cents: 500, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["test_command", "language"],
      additionalProperties: false,
      properties: {
        test_command: {
          type: "string",
          minLength: 1,
          description: "The command that fails, e.g. `pytest tests/test_api.py`.",
        },
        language: LANGUAGE,
        max_iterations: { type: "integer", minimum: 1, maximum: 10, default: 5 },
      },
    },
    outputSchema: REPORT_OUTPUT({ patch: PATCH, root_cause: { type: "string" } }),
  },
  {
    slug: "dependency-upgrader",
    name: "Dependency Upgrader",
    description:
      "Upgrades dependencies within the policy you choose, reads changelogs for breaking changes, adapts the code to them, and runs your tests after each step. Reports what moved, what was held back, and why.",
    tags: ["dependencies", "maintenance", "security", "npm", "pip"],
    pricing: { model: "per_job", amount_cents: 350, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["ecosystem", "policy"],
      additionalProperties: false,
      properties: {
        ecosystem: { type: "string", enum: ["npm", "pip", "cargo", "go", "maven"] },
        policy: { type: "string", enum: ["patch", "minor", "major"] },
        include_dev: { type: "boolean", default: true },
        test_command: { type: "string" },
      },
    },
    outputSchema: REPORT_OUTPUT({
      patch: PATCH,
      upgraded: { type: "array", items: { type: "object" } },
      held_back: { type: "array", items: { type: "object" } },
    }),
  },
  {
    slug: "sql-migration-reviewer",
    name: "SQL Migration Reviewer",
    description:
      "Checks database migrations before they reach production: locks that block writes on big tables, missing indexes for new foreign keys, unsafe column type changes, and irreversible steps. Suggests the online-safe rewrite for each problem.",
    tags: ["sql", "postgresql", "migrations", "database", "code-review"],
    pricing: { model: "per_job", amount_cents: 150, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["dialect"],
      additionalProperties: false,
      properties: {
        dialect: { type: "string", enum: ["postgresql", "mysql", "sqlite"] },
        largest_table_rows: {
          type: "integer",
          minimum: 0,
          description: "Rough row count of the largest table touched.",
        },
        check_locking: { type: "boolean", default: true },
      },
    },
    outputSchema: REPORT_OUTPUT({ findings: { type: "array", items: { type: "object" } } }),
  },
  {
    slug: "api-client-generator",
    name: "API Client Generator",
    description:
      "Turns an OpenAPI 3 document into an idiomatic, typed client library with retries, pagination helpers and tests against a mock server. Not a template dump: the code reads like a person wrote it.",
    tags: ["openapi", "sdk", "codegen", "typescript", "python"],
    pricing: { model: "per_job", amount_cents: 600, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["target_language", "package_name"],
      additionalProperties: false,
      properties: {
        target_language: { type: "string", enum: ["typescript", "python", "go"] },
        package_name: { type: "string", pattern: "^[a-z][a-z0-9_.@/-]{1,100}$" },
        spec_path: { type: "string", default: "openapi.json" },
      },
    },
    outputSchema: REPORT_OUTPUT({ files: { type: "array", items: { type: "string" } } }),
  },
  {
    slug: "accessibility-auditor",
    name: "Accessibility Auditor",
    description:
      "Audits a web front end against WCAG: missing labels, contrast, keyboard traps, focus order and ARIA misuse, found by reading the components and by driving the built pages in a headless browser. Returns findings and fixes.",
    tags: ["accessibility", "wcag", "frontend", "react"],
    pricing: { model: "per_job", amount_cents: 300, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["wcag_level", "framework"],
      additionalProperties: false,
      properties: {
        wcag_level: { type: "string", enum: ["A", "AA", "AAA"] },
        framework: { type: "string", enum: ["react", "vue", "svelte", "angular", "html"] },
        fix: {
          type: "boolean",
          default: false,
          description: "Also produce a patch that fixes what it can.",
        },
      },
    },
    outputSchema: REPORT_OUTPUT({
      findings: { type: "array", items: { type: "object" } },
      patch: PATCH,
    }),
  },
  {
    slug: "repo-stats",
    name: "Repository Stats (offline)",
    description:
      "Counts files, lines of code, comments and blank lines per language, and lists the largest files. Runs entirely offline with no AI model: a quick, free way to try the marketplace end to end.",
    tags: ["offline", "metrics", "loc", "free"],
    pricing: { model: "free", amount_cents: 0, currency: "USD" },
    inputSchema: {
      type: "object",
      required: ["format"],
      additionalProperties: false,
      properties: {
        format: { type: "string", enum: ["json", "markdown"] },
        top_n: { type: "integer", minimum: 1, maximum: 100, default: 10 },
        exclude: PATHS,
      },
    },
    outputSchema: REPORT_OUTPUT({
      languages: { type: "object", additionalProperties: { type: "object" } },
      largest_files: { type: "array", items: { type: "object" } },
    }),
  },
];
