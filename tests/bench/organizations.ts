/**
 * Benchmark 8 alone (the organizations reconcile), with the same report as
 * `deno task bench`, written to `.bench/organizations.md`:
 *
 *   deno run --allow-all tests/bench/organizations.ts           # 10,000 organizations
 *   deno run --allow-all tests/bench/organizations.ts --quick   # 1,000
 */
import { markdownTable } from "./_report.ts";
import { REPO_ROOT, stopAll } from "./_process.ts";
import { organizationsReconcileBenchmark } from "./_reconcile_organizations.ts";

const quick = Deno.args.includes("--quick");
if (!Deno.env.get("TEST_DATABASE_URL")) {
  Deno.env.set("TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres");
}
const started = performance.now();
const progress = (line: string) => {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  console.error(`[bench ${seconds}s] ${line}`);
};
let rows;
try {
  rows = await organizationsReconcileBenchmark({
    organizations: quick ? 1_000 : 10_000,
    rounds: quick ? 1 : 2,
    progress,
  });
} finally {
  await stopAll();
}
const missed = rows.filter((row) => row.met === false).map((row) => row.figure);
const report = [
  "# clerk-events benchmark 8: organizations reconcile",
  "",
  `${new Date().toISOString()}, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs` +
  `${quick ? ", quick run (not comparable)" : ""}.`,
  "",
  markdownTable(rows),
  missed.length ? `\nTargets missed: ${missed.join("; ")}\n` : "\nAll targets met.\n",
].join("\n");
console.log(report);
const dir = new URL(".bench/", REPO_ROOT);
await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(new URL("organizations.md", dir), report);
