import assert from "node:assert/strict";
import { main } from "../scripts/reconcile.ts";
import { testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";

/** Runs the command in-process with its console output captured. */
async function reconcileCommand(args: string[], env: Record<string, string | undefined>) {
  const output: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => output.push(parts.join(" "));
  console.error = (...parts: unknown[]) => output.push(parts.join(" "));
  try {
    const code = await main(args, env as Record<string, string>);
    return { code, output: output.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("deno task reconcile asks Inngest for a run", async (t) => {
  const api = startEventApi();
  try {
    const env = testEnv({ INNGEST_EVENT_API_BASE_URL: api.url });

    await t.step("it sends clerk-events/reconcile.requested", async () => {
      const { code, output } = await reconcileCommand([], env);
      assert.equal(code, 0, output);
      assert.deepEqual(
        api.accepted.map((e) => [e.name, e.data]),
        [["clerk-events/reconcile.requested", { dryRun: false }]],
      );
      assert.match(output, /public\.clerk_sync_runs/);
    });

    await t.step("--dry-run asks for a run that writes nothing", async () => {
      const { code } = await reconcileCommand(["--dry-run"], env);
      assert.equal(code, 0);
      assert.deepEqual(api.accepted.at(-1)?.data, { dryRun: true });
    });

    await t.step("an unknown option is a usage error and sends nothing", async () => {
      const before = api.accepted.length;
      const { code, output } = await reconcileCommand(["--dryrun"], env);
      assert.equal(code, 2);
      assert.match(output, /Usage: deno task reconcile/);
      assert.equal(api.accepted.length, before);
    });

    await t.step("without an event key it says so, without printing any key", async () => {
      const { code, output } = await reconcileCommand(
        [],
        { ...env, INNGEST_EVENT_KEY: undefined },
      );
      assert.equal(code, 1);
      assert.match(output, /INNGEST_EVENT_KEY is missing/);
      assert.ok(!output.includes(String(env.INNGEST_SIGNING_KEY)));
    });
  } finally {
    await api.close();
  }
});
