/**
 * Benchmarks 1 and 5 alone (ingress against the peer, from source on Deno
 * 2.9 and as deployed on Deno 2.1), with the same report as `deno task
 * bench`, written to `.bench/ingress.md`. Its p99 is noisy on a shared
 * machine: run it several times and take the median of the runs.
 *
 *   deno run --allow-all tests/bench/ingress.ts            # 7 rounds of 5 s
 *   deno run --allow-all tests/bench/ingress.ts --quick    # 3 rounds of 1.5 s
 */
import { buildBenchArtifacts } from "./_artifacts.ts";
import { ingressBenchmark } from "./_ingress.ts";
import { markdownTable, type Row } from "./_report.ts";
import { REPO_ROOT, spawnServer, stopAll, waitUntilAnswering } from "./_process.ts";

const quick = Deno.args.includes("--quick");
const started = performance.now();
const progress = (line: string) => {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  console.error(`[bench ${seconds}s] ${line}`);
};
const artifacts = await buildBenchArtifacts(progress);
const eventApi = spawnServer("event_api");
let rows: Row[];
try {
  const eventApiUrl = `${eventApi.url}/`;
  await waitUntilAnswering(
    () => fetch(`${eventApiUrl}e/key`, { method: "POST", body: "[]" }),
    performance.now(),
  );
  rows = await ingressBenchmark({
    eventApiUrl,
    artifacts,
    rounds: quick ? 3 : 7,
    concurrency: 32,
    roundMs: quick ? 1500 : 5000,
    warmupMs: quick ? 500 : 2000,
    maxRequestsPerRound: 500_000,
    progress,
  });
} finally {
  await stopAll();
  await artifacts.remove();
}
const missed = rows.filter((row) => row.met === false).map((row) => row.figure);
const report = [
  "# clerk-events benchmarks 1 and 5: ingress",
  "",
  `${new Date().toISOString()}, Deno ${Deno.version.deno} (the artifact's rows: Deno ` +
  `${artifacts.productionVersion}), ${navigator.hardwareConcurrency} CPUs` +
  `${quick ? ", quick run (not comparable)" : ""}.`,
  "",
  markdownTable(rows),
  missed.length ? `\nTargets missed: ${missed.join("; ")}\n` : "\nAll targets met.\n",
].join("\n");
console.log(report);
const dir = new URL(".bench/", REPO_ROOT);
await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(new URL("ingress.md", dir), report);
