import { ACTORS, FAILURE_CODE_VALUES, JOB_STATUSES, ROLES } from "@agnt/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";

/** Every column that holds a closed set of the contract, and that set. */
const CLOSED_SETS: [table: string, column: string, values: readonly string[]][] = [
  ["accounts", "role", ROLES],
  ["jobs", "status", JOB_STATUSES],
  ["jobs", "failure_code", FAILURE_CODE_VALUES],
  ["jobs", "changed_by", ACTORS],
  ["job_events", "from_status", JOB_STATUSES],
  ["job_events", "to_status", JOB_STATUSES],
  ["job_events", "actor", ACTORS],
  ["job_events", "failure_code", FAILURE_CODE_VALUES],
];

/**
 * Closed sets are domains (migration 0014): one CHECK list per set, which PostgreSQL parses
 * once per connection, where a table's CHECK lists are parsed again for every statement.
 */
describe("the database's closed sets match the contract", () => {
  let database: TestDatabase;
  let domains: { table: string; column: string; domain: string; definition: string }[];
  let tableChecks: { table: string; definition: string }[];
  beforeAll(async () => {
    database = await createTestDatabase();
    domains = (
      await database.db.query<{
        table: string;
        column: string;
        domain: string;
        definition: string;
      }>(
        `SELECT t.relname AS table, a.attname AS column, d.typname AS domain,
                pg_get_constraintdef(c.oid) AS definition
         FROM pg_attribute a
         JOIN pg_class t ON t.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
         JOIN pg_type d ON d.oid = a.atttypid AND d.typtype = 'd'
         JOIN pg_constraint c ON c.contypid = d.oid AND c.contype = 'c'
         WHERE t.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`,
      )
    ).rows;
    tableChecks = (
      await database.db.query<{ table: string; definition: string }>(
        `SELECT t.relname AS table, pg_get_constraintdef(c.oid) AS definition
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
         WHERE c.contype = 'c'`,
      )
    ).rows;
  });
  afterAll(() => database.drop());

  /** The quoted values of a list: `CHECK ((VALUE = ANY (ARRAY['a'::text, 'b'::text])))`. */
  const listed = (definition: string) =>
    [...definition.matchAll(/'([^']*)'::text/g)].map((match) => match[1] as string);

  it.each(CLOSED_SETS)("%s.%s", (table, column, values) => {
    const found = domains.filter((d) => d.table === table && d.column === column);
    expect(found, `${table}.${column} is of a domain with one CHECK`).toHaveLength(1);
    expect(listed(found[0]?.definition ?? "").sort()).toEqual([...values].sort());
  });

  it("no other column is of a listing domain, and no table CHECK lists values", () => {
    // `IN ('a', 'b')` comes back as `= ANY (ARRAY['a'::text, 'b'::text])`.
    for (const d of domains.filter((d) => d.definition.includes("ANY (ARRAY["))) {
      expect(
        CLOSED_SETS.some(([table, column]) => d.table === table && d.column === column),
        `${d.table}.${d.column} (${d.domain}): ${d.definition}`,
      ).toBe(true);
    }
    const lists = tableChecks.filter((check) => check.definition.includes("ANY (ARRAY["));
    expect(lists, "closed sets belong in domains").toEqual([]);
  });
});
