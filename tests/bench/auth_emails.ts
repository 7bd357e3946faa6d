/**
 * Benchmark 10 alone (Clerk's emails: webhook to Resend, and ingress with
 * the feature on), with the same report as `deno task bench`, written to
 * `.bench/auth_emails.md`:
 *
 *   deno run --allow-all tests/bench/auth_emails.ts           # 5 rounds of 200 codes
 *   deno run --allow-all tests/bench/auth_emails.ts --quick   # 2 rounds of 50
 */
import { authEmailsBenchmark, authEmailsBenchOptions } from "./_auth_emails.ts";
import { runAlone } from "./_alone.ts";
import { spawnServer, waitUntilAnswering } from "./_process.ts";

await runAlone(
  "clerk-events benchmark 10: Clerk's emails",
  "auth_emails.md",
  async (quick, progress) => {
    const eventApi = spawnServer("event_api");
    const eventApiUrl = `${eventApi.url}/`;
    await waitUntilAnswering(
      () => fetch(`${eventApiUrl}e/key`, { method: "POST", body: "[]" }),
      performance.now(),
    );
    return await authEmailsBenchmark(authEmailsBenchOptions(quick, eventApiUrl, progress));
  },
);
