/**
 * `sync-user-from-clerk`: mirrors a created or updated Clerk user into
 * `public.users`.
 */
import type { Inngest } from "inngest";
import { clerkUserSchema } from "../clerk/schemas.ts";
import { userCreated, userUpdated } from "../inngest/events.ts";
import { toUserRow } from "./user_row.ts";
import type { UserWorkflowDeps } from "./deps.ts";
import { loggedWrite, parseInput } from "../inngest/step_errors.ts";

/** The function id, part of the contract. */
export const SYNC_USER_FUNCTION_ID = "sync-user-from-clerk";

/** Creates `sync-user-from-clerk` on `client`. */
export function createSyncUserFunction(client: Inngest, deps: UserWorkflowDeps) {
  return client.createFunction(
    {
      id: SYNC_USER_FUNCTION_ID,
      name: "Sync user from Clerk",
      triggers: [userCreated, userUpdated],
      // One run per user at a time. Order does not matter for correctness
      // (the SQL function keeps the newest version), but this avoids two
      // runs racing for the same row.
      concurrency: { key: "event.data.id", limit: 1 },
      retries: 10,
    },
    async ({ event, step }) => {
      const user = parseInput(clerkUserSchema, event.data, "Cannot sync user");
      const row = toUserRow(user);
      const outcome = await step.run("upsert-user", () =>
        loggedWrite(
          deps.logger,
          "User synced",
          { user_id: row.id, event: event.name, event_id: event.id },
          `Cannot sync user "${row.id}"`,
          async () => (await deps.users()).upsert(row),
        ));
      return { userId: row.id, outcome };
    },
  );
}
