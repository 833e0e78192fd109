import type { Db } from "./types.ts";

/** How often the API looks for tables due in the embedded database: autovacuum_naptime's default. */
export const AUTOVACUUM_NAPTIME_MS = 60_000;

/**
 * The tables of the current schema that PostgreSQL's autovacuum would vacuum or analyze now,
 * by its own thresholds and settings (`autovacuum_*`): vacuum when the dead row versions, or
 * the rows inserted since the last vacuum, pass threshold + scale factor × rows; analyze when
 * the rows changed since the last analysis do. A table never analyzed counts as empty.
 */
const DUE = `
  SELECT format('%I.%I', s.schemaname, s.relname) AS name,
    s.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8
        + current_setting('autovacuum_vacuum_scale_factor')::float8 * r.rows
      OR s.n_ins_since_vacuum > current_setting('autovacuum_vacuum_insert_threshold')::float8
        + current_setting('autovacuum_vacuum_insert_scale_factor')::float8 * r.rows AS vacuum,
    s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
        + current_setting('autovacuum_analyze_scale_factor')::float8 * r.rows AS analyze
  FROM pg_stat_user_tables s
  JOIN pg_class c ON c.oid = s.relid
  CROSS JOIN LATERAL (SELECT greatest(c.reltuples, 0)::float8 AS rows) r
  WHERE s.schemaname = current_schema()
  ORDER BY s.relname`;

/** What one pass did: the tables vacuumed (and analyzed with it), and those only analyzed. */
export interface VacuumPass {
  vacuumed: string[];
  analyzed: string[];
}

/**
 * Vacuums and analyzes the tables that are due (DUE), one statement each, as autovacuum
 * would. The embedded database (PGlite) runs no background workers, so nothing else does: its
 * job tables would keep every dead row version, and its planner would never learn their size
 * (prepared statements keep plans made for empty tables). On a PostgreSQL server autovacuum
 * does this on its own; the API calls it for PGlite only (`startAutovacuum` in maintenance.ts).
 */
export async function vacuumDueTables(db: Db): Promise<VacuumPass> {
  const { rows } = await db.query<{ name: string; vacuum: boolean; analyze: boolean }>(DUE);
  const pass: VacuumPass = { vacuumed: [], analyzed: [] };
  for (const table of rows) {
    if (table.vacuum) {
      await db.exec(`VACUUM (ANALYZE) ${table.name}`);
      pass.vacuumed.push(table.name);
    } else if (table.analyze) {
      await db.exec(`ANALYZE ${table.name}`);
      pass.analyzed.push(table.name);
    }
  }
  return pass;
}
