/**
 * Benchmark 9 alone (Clerk Billing rows written), with the same report as
 * `deno task bench`, written to `.bench/clerk_billing.md`:
 *
 *   deno run --allow-all tests/bench/clerk_billing.ts           # 10,000 items
 *   deno run --allow-all tests/bench/clerk_billing.ts --quick   # 1,000
 */
import { runAlone } from "./_alone.ts";
import { clerkBillingBenchmark } from "./_clerk_billing.ts";

await runAlone(
  "clerk-events benchmark 9: Clerk Billing rows written",
  "clerk_billing.md",
  (quick, progress) =>
    clerkBillingBenchmark({
      items: quick ? 1_000 : 10_000,
      rounds: quick ? 1 : 3,
      connections: 4,
      progress,
    }),
  "Figures are the median (lowest–highest) of the rounds; ours and the baseline alternate.",
);
