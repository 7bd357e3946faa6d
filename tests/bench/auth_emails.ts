/**
 * Benchmark 9 alone (Clerk's emails: webhook to Resend, and ingress with
 * the feature on), with the same report as `deno task bench`, written to
 * `.bench/auth_emails.md`:
 *
 *   deno run --allow-all tests/bench/auth_emails.ts           # 5 rounds of 200 codes
 *   deno run --allow-all tests/bench/auth_emails.ts --quick   # 2 rounds of 50
 */
import { authEmailsBenchmark, authEmailsBenchOptions } from "./_auth_emails.ts";
import { markdownTable } from "./_report.ts";
import { REPO_ROOT, spawnServer, stopAll, waitUntilAnswering } from "./_process.ts";

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
  const eventApi = spawnServer("event_api");
  const eventApiUrl = `${eventApi.url}/`;
  await waitUntilAnswering(
    () => fetch(`${eventApiUrl}e/key`, { method: "POST", body: "[]" }),
    performance.now(),
  );
  rows = await authEmailsBenchmark(authEmailsBenchOptions(quick, eventApiUrl, progress));
} finally {
  await stopAll();
}
const missed = rows.filter((row) => row.met === false).map((row) => row.figure);
const report = [
  "# clerk-events benchmark 9: Clerk's emails",
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
await Deno.writeTextFile(new URL("auth_emails.md", dir), report);
Deno.exit(0);
