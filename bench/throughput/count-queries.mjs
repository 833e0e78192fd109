// Preload for the agnt server, for analysis runs: counts the SQL statements the server sends
// through `pg`, by text, and writes them (most frequent first) to $BENCH_QUERY_COUNTS at exit.
//   BENCH_QUERY_COUNTS=/tmp/q.json npm run bench:throughput -- --systems agnt \
//     --server-node-arg=--import=$PWD/bench/throughput/count-queries.mjs
import { writeFileSync } from "node:fs";
import pg from "pg";

const counts = new Map();
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(config, ...rest) {
  const text = typeof config === "string" ? config : config?.text;
  if (text) {
    const key = text.replace(/\s+/g, " ").trim().slice(0, 100);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return query.call(this, config, ...rest);
};
process.on("exit", () => {
  const file = process.env.BENCH_QUERY_COUNTS;
  if (file)
    writeFileSync(
      file,
      JSON.stringify(
        [...counts].sort((a, b) => b[1] - a[1]),
        null,
        1,
      ),
    );
});
