/**
 * Benchmarks 1 and 5 alone (ingress against the peer, from source on Deno
 * 2.9 and as deployed on Deno 2.1), with the same report as `deno task
 * bench`, written to `.bench/ingress.md`. Its p99 is noisy on a shared
 * machine: run it several times and take the median of the runs.
 *
 *   deno run --allow-all tests/bench/ingress.ts            # 7 rounds of 5 s
 *   deno run --allow-all tests/bench/ingress.ts --quick    # 3 rounds of 1.5 s
 */
import { runAlone } from "./_alone.ts";
import { buildBenchArtifacts } from "./_artifacts.ts";
import { ingressBenchmark, ingressBenchOptions } from "./_ingress.ts";
import { spawnServer, waitUntilAnswering } from "./_process.ts";
import { PRODUCTION_DENO_VERSION } from "../../scripts/production_deno.ts";

await runAlone(
  "clerk-events benchmarks 1 and 5: ingress",
  "ingress.md",
  async (quick, progress) => {
    const artifacts = await buildBenchArtifacts(progress);
    try {
      const eventApiUrl = `${spawnServer("event_api").url}/`;
      await waitUntilAnswering(
        () => fetch(`${eventApiUrl}e/key`, { method: "POST", body: "[]" }),
        performance.now(),
      );
      return await ingressBenchmark(ingressBenchOptions(quick, eventApiUrl, artifacts, progress));
    } finally {
      await artifacts.remove();
    }
  },
  `The artifact's rows: Deno ${PRODUCTION_DENO_VERSION}, what hosted Supabase runs.`,
);
