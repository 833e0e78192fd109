import { readFileSync } from "node:fs";
const [file, ...names] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfMs = new Map();
for (let i = 0; i < p.samples.length; i++) selfMs.set(p.samples[i], (selfMs.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
let total = 0; const incl = new Map();
for (const [id, ms] of selfMs) {
  const n = byId.get(id); if (n.callFrame.functionName === "(idle)") continue;
  total += ms;
  const seen = new Set(); let cur = id;
  while (cur !== undefined) {
    const f = byId.get(cur).callFrame; const key = `${f.functionName || "(anon)"} ${f.url.replace(/.*node_modules\//, "").replace(/.*\/src\//, "")}:${f.lineNumber + 1}`;
    if (!seen.has(key)) { seen.add(key); incl.set(key, (incl.get(key) ?? 0) + ms); }
    cur = parent.get(cur);
  }
}
console.log("total", total.toFixed(0));
const rows = [...incl].sort((a, b) => b[1] - a[1]).filter(([k]) => names.length === 0 || names.some((n) => k.includes(n)));
for (const [k, ms] of rows.slice(0, 500)) console.log(ms.toFixed(0).padStart(7), (100 * ms / total).toFixed(1).padStart(5) + "%", k);
