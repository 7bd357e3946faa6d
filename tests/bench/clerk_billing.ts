/**
 * Benchmark 9 alone (Clerk Billing rows written), with the same report as
 * `deno task bench`, written to `.bench/clerk_billing.md`:
 *
 *   deno run --allow-all tests/bench/clerk_billing.ts           # 10,000 items
 *   deno run --allow-all tests/bench/clerk_billing.ts --quick   # 1,000
 */
import { markdownTable } from "./_report.ts";
import { REPO_ROOT } from "./_process.ts";
import { clerkBillingBenchmark } from "./_clerk_billing.ts";

const quick = Deno.args.includes("--quick");
if (!Deno.env.get("TEST_DATABASE_URL")) {
  Deno.env.set("TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres");
}
const started = performance.now();
const rows = await clerkBillingBenchmark({
  items: quick ? 1_000 : 10_000,
  rounds: quick ? 1 : 3,
  connections: 4,
  progress: (line) =>
    console.error(
      `[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`,
    ),
});
const report = [
  "# clerk-events benchmark 9: Clerk Billing rows written",
  "",
  `${new Date().toISOString()}, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs` +
  `${quick ? ", quick run (not comparable)" : ""}. Figures are the median (lowest–highest) of ` +
  `the rounds; ours and the baseline alternate.`,
  "",
  markdownTable(rows),
  "",
].join("\n");
console.log(report);
const dir = new URL(".bench/", REPO_ROOT);
await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(new URL("clerk_billing.md", dir), report);
