/**
 * The benchmark suite: `deno task bench`.
 *
 * Runs every benchmark against a baseline measured in the same run, prints
 * progress lines to stderr, then prints the results as a markdown table and
 * writes it to `.bench/results.md`. All traffic stays on 127.0.0.1; every
 * benchmark is bounded in requests and time, and a watchdog stops the whole
 * run after fifteen minutes.
 *
 *   deno run --allow-all tests/bench/run.ts            # the full suite
 *   deno run --allow-all tests/bench/run.ts --quick    # a short smoke run
 */
import { type BenchArtifacts, buildBenchArtifacts } from "./_artifacts.ts";
import { authEmailsBenchmark, authEmailsBenchOptions } from "./_auth_emails.ts";
import { coldStartBenchmark } from "./_cold_start.ts";
import { deployBenchmark } from "./_deploy.ts";
import { ingressBenchmark, ingressBenchOptions } from "./_ingress.ts";
import { moduleGraphRows } from "./_module_graph.ts";
import { REPO_ROOT, spawnServer, stopAll, waitUntilAnswering } from "./_process.ts";
import { markdownTable, type Row } from "./_report.ts";
import { verifyBenchmark } from "./_verify.ts";
import { writePathBenchmark } from "./_write_path.ts";
import { supabaseWriteRows } from "./_supabase_write.ts";
import { meSyncBenchmark, meSyncBenchOptions } from "./_me_sync.ts";
import { reconcileBenchmark } from "./_reconcile.ts";
import { organizationsReconcileBenchmark } from "./_reconcile_organizations.ts";
import { convergenceBenchmark } from "./_convergence.ts";
import { clerkBillingBenchmark } from "./_clerk_billing.ts";

const quick = Deno.args.includes("--quick");
// The write-path figures are PostgreSQL's, with several connections: the
// embedded test database (used when this is unset) serves only one.
if (!Deno.env.get("TEST_DATABASE_URL")) {
  Deno.env.set("TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres");
}
// The suite takes about ten minutes on a busy 2-CPU machine: the watchdog
// stops a run that hangs, not one that is slow.
const WATCHDOG_MS = 15 * 60_000;

const started = performance.now();
const progress = (line: string) => {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  console.error(`[bench ${seconds}s] ${line}`);
};

const watchdog = setTimeout(async () => {
  console.error(`Benchmarks stopped: still running after ${WATCHDOG_MS / 60_000} minutes`);
  await stopAll();
  Deno.exit(1);
}, WATCHDOG_MS);

const rows: Row[] = [];
const eventApi = spawnServer("event_api");
let artifacts: BenchArtifacts | undefined;
try {
  progress("building what is deployed: the artifact, and the peer the same way");
  artifacts = await buildBenchArtifacts(progress);

  const eventApiUrl = `${eventApi.url}/`;
  await waitUntilAnswering(
    () => fetch(`${eventApiUrl}e/key`, { method: "POST", body: "[]" }),
    performance.now(),
  );

  progress("1 and 5: ingress throughput, latency and memory, against the peer");
  rows.push(
    ...await ingressBenchmark(ingressBenchOptions(quick, eventApiUrl, artifacts, progress)),
  );

  progress("2: verification alone (deno bench)");
  rows.push(...await verifyBenchmark());

  progress("3: cold start");
  rows.push(...await coldStartBenchmark({ eventApiUrl, rounds: quick ? 3 : 7, progress }));
  rows.push(...await moduleGraphRows());

  progress("6: deploy: sizes against Supabase's limits, cold start of the artifact");
  rows.push(
    ...await deployBenchmark({ eventApiUrl, artifacts, rounds: quick ? 3 : 7, progress }),
  );

  progress("4: write path");
  rows.push(
    ...await writePathBenchmark({
      users: quick ? 1_000 : 10_000,
      updatesPerUser: 3,
      rounds: 3,
      connections: 4,
      roundTimeoutMs: 60_000,
      progress,
    }),
  );
  rows.push(
    ...await supabaseWriteRows({ users: quick ? 200 : 1_000, rounds: 2, connections: 4, progress }),
  );

  progress("6: reconcile with Clerk");
  rows.push(
    ...await reconcileBenchmark({
      sizes: quick ? [1_000, 10_000] : [10_000, 100_000],
      rounds: quick ? 1 : 2,
      atDevLimit: !quick,
      progress,
    }),
  );

  progress("7: on-demand sync latency");
  rows.push(
    ...await meSyncBenchmark(meSyncBenchOptions(quick, progress)),
  );

  progress("8: reconcile organizations with Clerk (alone: tests/bench/organizations.ts)");
  rows.push(
    ...await organizationsReconcileBenchmark({
      organizations: quick ? 1_000 : 10_000,
      rounds: quick ? 1 : 2,
      progress,
    }),
  );

  progress("9: Clerk Billing rows written (alone: tests/bench/clerk_billing.ts)");
  rows.push(
    ...await clerkBillingBenchmark({
      items: quick ? 1_000 : 10_000,
      rounds: quick ? 1 : 3,
      connections: 4,
      progress,
    }),
  );

  progress("10: Clerk's emails: webhook to Resend, and ingress with the feature on");
  rows.push(...await authEmailsBenchmark(authEmailsBenchOptions(quick, eventApiUrl, progress)));

  progress("11: the convergence simulation's histories per minute");
  rows.push(
    ...await convergenceBenchmark({ histories: quick ? 60 : 300, rounds: quick ? 1 : 3, progress }),
  );
} finally {
  await stopAll();
  await artifacts?.remove();
  clearTimeout(watchdog);
}

// In the order the issue lists the benchmarks; stable within each.
rows.sort((a, b) => parseInt(a.figure) - parseInt(b.figure));
const missed = rows.filter((row) => row.met === false).map((row) => row.figure);
const header = [
  `# clerk-events benchmarks`,
  "",
  `${new Date().toISOString()}, Deno ${Deno.version.deno} (the artifact's rows: Deno ` +
  `${artifacts?.productionVersion}, what hosted Supabase runs), ` +
  `${navigator.hardwareConcurrency} CPUs` +
  `${quick ? ", quick run (not comparable)" : ""}. Figures of several runs are their ` +
  `median (lowest–highest); runs of ours and the baseline alternate, and every ratio is ` +
  `ours / baseline from this run (run by run where both have as many runs).`,
  "",
  "",
].join("\n");
const footer = missed.length ? `\nTargets missed: ${missed.join("; ")}\n` : "\nAll targets met.\n";
const report = `${header}${markdownTable(rows)}\n${footer}`;
console.log(report);
const dir = new URL(".bench/", REPO_ROOT);
await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(new URL("results.md", dir), report);
progress(`written to ${new URL("results.md", dir).pathname}`);
