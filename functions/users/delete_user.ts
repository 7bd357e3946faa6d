/**
 * `delete-user-from-clerk`: erases a deleted Clerk user's personal data and
 * keeps a tombstone, so that a late created/updated event cannot restore it.
 */
import type { Inngest } from "inngest";
import { clerkDeletedUserSchema } from "../clerk/schemas.ts";
import { userDeleted } from "../inngest/events.ts";
import type { UserWorkflowDeps } from "./deps.ts";
import { loggedWrite, parseInput } from "../inngest/step_errors.ts";

/** The function id, part of the contract. */
export const DELETE_USER_FUNCTION_ID = "delete-user-from-clerk";

/** Creates `delete-user-from-clerk` on `client`. */
export function createDeleteUserFunction(client: Inngest, deps: UserWorkflowDeps) {
  return client.createFunction(
    {
      id: DELETE_USER_FUNCTION_ID,
      name: "Delete user from Clerk",
      triggers: [userDeleted],
      concurrency: { key: "event.data.id", limit: 1 },
      retries: 10,
    },
    async ({ event, step }) => {
      const { id } = parseInput(clerkDeletedUserSchema, event.data, "Cannot delete user");
      // The event's ts is the Clerk envelope's timestamp: when Clerk deleted
      // the user, which stays the same on every retry.
      const deletedAt = new Date(event.ts).toISOString();
      const outcome = await step.run("erase-user", () =>
        loggedWrite(
          deps.logger,
          "User erased",
          { user_id: id, event: event.name, event_id: event.id },
          `Cannot delete user "${id}"`,
          async () => (await deps.users()).markDeleted(id, deletedAt),
        ));
      return { userId: id, outcome };
    },
  );
}
