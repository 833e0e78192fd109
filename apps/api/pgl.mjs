import { PGlite } from "@electric-sql/pglite";

let t = Date.now();
const db = new PGlite();
await db.waitReady;
console.log("ready ms", Date.now() - t);
const q = async (s, p) => {
  try {
    const r = await db.query(s, p);
    console.log(s.slice(0, 60), JSON.stringify(r.rows).slice(0, 200), r.affectedRows);
  } catch (e) {
    console.log("ERR", s.slice(0, 60), e.message);
  }
};
await q("select to_tsvector('english', 'The quick brown foxes are running') v");
await q("select websearch_to_tsquery('english', 'the') q");
await q("select gen_random_uuid() u, now() n, pg_advisory_xact_lock(42)");
await q(
  "select percentile_cont(0.5) within group (order by x) from (values (1.0),(2.0),(10.0)) t(x)",
);
await q(
  "select extract(epoch from interval '1.5 seconds') e, count(*) c, 5::bigint b, 1.5::numeric n",
);
await db.exec("create function f() returns int language plpgsql as $$ begin return 1; end $$;");
await q("select f()");
await q("select 'a'::text ilike 'A' as i, 'x%y' like '%\\%%' as esc");
t = Date.now();
const dump = await db.dumpDataDir("none");
console.log("dump ms", Date.now() - t, dump.size);
t = Date.now();
const db2 = new PGlite({ loadDataDir: dump });
await db2.waitReady;
console.log("load ms", Date.now() - t, (await db2.query("select f()")).rows);
// concurrency: transaction vs query
const p1 = db.transaction(async (tx) => {
  await tx.query("select pg_sleep(0.2)");
  return "tx";
});
const p2 = db.query("select 'q' as v");
t = Date.now();
console.log(await Promise.all([p1, p2.then((r) => r.rows)]), Date.now() - t);
