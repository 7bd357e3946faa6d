/**
 * Benchmark 11 alone (the convergence simulation's histories per minute),
 * with the same report as `deno task bench`, written to
 * `.bench/convergence.md`:
 *
 *   deno run --allow-all tests/bench/convergence.ts           # 3 rounds of 300 histories per entity (CI's run)
 *   deno run --allow-all tests/bench/convergence.ts --quick   # 1 round of 60
 */
import { runAlone } from "./_alone.ts";
import { convergenceBenchmark } from "./_convergence.ts";

await runAlone(
  "clerk-events benchmark 11: the convergence simulation",
  "convergence.md",
  (quick, progress) =>
    convergenceBenchmark({ histories: quick ? 60 : 300, rounds: quick ? 1 : 3, progress }),
  "Figures are the median (lowest–highest) of the rounds, each on its own seed, start-up included.",
);
