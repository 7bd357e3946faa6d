/**
 * Benchmark 8 alone (the organizations reconcile), with the same report as
 * `deno task bench`, written to `.bench/organizations.md`:
 *
 *   deno run --allow-all tests/bench/organizations.ts           # 10,000 organizations
 *   deno run --allow-all tests/bench/organizations.ts --quick   # 1,000
 */
import { runAlone } from "./_alone.ts";
import { organizationsReconcileBenchmark } from "./_reconcile_organizations.ts";

await runAlone(
  "clerk-events benchmark 8: organizations reconcile",
  "organizations.md",
  (quick, progress) =>
    organizationsReconcileBenchmark({
      organizations: quick ? 1_000 : 10_000,
      rounds: quick ? 1 : 2,
      progress,
    }),
);
