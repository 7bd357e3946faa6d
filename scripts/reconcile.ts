/**
 * `deno task reconcile`: asks Inngest for a run of `reconcile-users-with-clerk`
 * now, by sending the event `clerk-events/reconcile.requested`. With
 * `--dry-run` the run counts what it would change in `public.users` without
 * writing to it. The counts land in `public.clerk_sync_runs`.
 *
 * The Inngest settings come from the environment, which the task loads from
 * the repo's `.env` (`--env-file`): `INNGEST_EVENT_KEY`, or
 * `INNGEST_DEV=1` for the Dev Server. Keys are never printed.
 *
 * Exit codes: 0 when Inngest accepted the event, 1 when it did not, 2 for a
 * usage error.
 */
import { parseArgs } from "node:util";
import { reconcileRequested } from "../functions/reconcile/events.ts";
import { createInngestClient } from "../functions/inngest/client.ts";
import { createLogger } from "../functions/util/log.ts";
import { parseSettings } from "../functions/settings.ts";

const USAGE = `Usage: deno task reconcile [--dry-run]

Asks Inngest to run reconcile-users-with-clerk now: it pages through Clerk's
Backend API, backfills and repairs public.users, and erases users Clerk no
longer has. One run at a time: a request while a run is going is skipped.

Options:
  --dry-run   count what would change, without writing to public.users
  --help      show this help`;

/** Sends the event; returns the exit code. */
export async function main(args: string[], env: Record<string, string>): Promise<number> {
  let dryRun: boolean;
  try {
    const { values } = parseArgs({
      args,
      options: { "dry-run": { type: "boolean" }, help: { type: "boolean" } },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    dryRun = values["dry-run"] ?? false;
  } catch (error) {
    console.error(`Cannot request a reconcile: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }

  const settings = parseSettings(env);
  if (!settings.inngest.ok) {
    console.error(`Cannot request a reconcile: ${settings.inngest.problems.join("; ")}`);
    return 1;
  }
  const inngest = createInngestClient({
    settings: settings.inngest.value,
    logger: createLogger({ minLevel: "warn" }),
  });
  try {
    const { ids } = await inngest.send({ name: reconcileRequested.name, data: { dryRun } });
    console.log(
      `Requested ${dryRun ? "a dry run" : "a run"} of reconcile-users-with-clerk ` +
        `(event ${ids[0]}). Follow it in Inngest; the counts land in public.clerk_sync_runs.`,
    );
    return 0;
  } catch (error) {
    console.error(`Cannot request a reconcile: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  const env = Deno.env.toObject();
  Deno.exit(await main(Deno.args, env));
}
