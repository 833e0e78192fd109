import { ACTORS, FAILURE_CODE_VALUES, JOB_STATUSES, ROLES } from "@agnt/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";

/** Every column whose CHECK constraint lists a closed set of the contract, and that set. */
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

interface CheckRow {
  table: string;
  columns: string[];
  definition: string;
}

describe("the database's CHECK lists match the contract", () => {
  let database: TestDatabase;
  let checks: CheckRow[];
  beforeAll(async () => {
    database = await createTestDatabase();
    const { rows } = await database.db.query<CheckRow>(
      `SELECT t.relname AS table, pg_get_constraintdef(c.oid) AS definition,
              array(SELECT a.attname::text FROM pg_attribute a
                    WHERE a.attrelid = t.oid AND a.attnum = ANY (c.conkey) ORDER BY a.attname) AS columns
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
       WHERE c.contype = 'c'`,
    );
    checks = rows;
  });
  afterAll(() => database.drop());

  /** The quoted values of a CHECK list: `(status = ANY (ARRAY['a'::text, 'b'::text]))`. */
  const listed = (definition: string) =>
    [...definition.matchAll(/'([^']*)'::text/g)].map((match) => match[1] as string);

  it.each(CLOSED_SETS)("%s.%s", (table, column, values) => {
    const found = checks.filter(
      (check) => check.table === table && check.columns.length === 1 && check.columns[0] === column,
    );
    expect(found, `${table}.${column} has one CHECK constraint`).toHaveLength(1);
    expect(listed(found[0]?.definition ?? "").sort()).toEqual([...values].sort());
  });

  it("no CHECK lists values that are not in this table of closed sets", () => {
    // `IN ('a', 'b')` comes back as `= ANY (ARRAY['a'::text, 'b'::text])`.
    const lists = checks.filter((check) => check.definition.includes("ANY (ARRAY["));
    for (const check of lists) {
      expect(
        CLOSED_SETS.some(
          ([table, column]) => check.table === table && check.columns.join() === column,
        ),
        `${check.table}(${check.columns.join()}): ${check.definition}`,
      ).toBe(true);
    }
    expect(lists).toHaveLength(CLOSED_SETS.length);
  });
});
