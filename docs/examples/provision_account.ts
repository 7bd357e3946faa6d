/**
 * `provision-account`, on `clerk/user.created`: creates the new user's account
 * in your product's accounts service (`POST <ACCOUNTS_API_URL>/accounts`), once
 * per user, however often Clerk, Svix or Inngest deliver or retry the event.
 *
 * The worked example of docs/extending.md. It lives here, outside
 * `functions/`, so that it is never deployed; a copy of it in your project
 * goes in `functions/workflows/`.
 */
import { type Inngest, NonRetriableError, RetryAfterError } from "inngest";
import { clerkUserSchema } from "../../functions/clerk/schemas.ts";
import { userCreated } from "../../functions/inngest/events.ts";
import type { Logger } from "../../functions/util/log.ts";
import { parseInput } from "../../functions/inngest/step_errors.ts";

/** The function id: Inngest keys runs, history and idempotency by it. */
export const PROVISION_ACCOUNT_FUNCTION_ID = "provision-account";

/** What `provision-account` needs, passed in by `functions/app.ts`. */
export interface ProvisionAccountDeps {
  /** The accounts service's base URL, e.g. `https://accounts.internal.example/`. */
  readonly accountsUrl: string;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
}

/** Creates `provision-account` on `client`. */
export function createProvisionAccountFunction(client: Inngest, deps: ProvisionAccountDeps) {
  const fetcher = deps.fetch ?? fetch;
  return client.createFunction(
    {
      id: PROVISION_ACCOUNT_FUNCTION_ID,
      name: "Provision account",
      triggers: [userCreated],
      // One run per user for 24 hours, even for a replayed user.created
      // that carries a new svix-id. The Idempotency-Key below covers the rest.
      idempotency: "event.data.id",
      retries: 5,
    },
    async ({ event, step }) => {
      const user = parseInput(clerkUserSchema, event.data, "Cannot provision account");
      const accountId = await step.run("create-account", async () => {
        const res = await fetcher(new URL("accounts", deps.accountsUrl), {
          method: "POST",
          headers: {
            "content-type": "application/json",
            // The same key on every retry: the service creates one account.
            "idempotency-key": `provision-account/${user.id}`,
          },
          body: JSON.stringify({ owner_clerk_user_id: user.id }),
          signal: AbortSignal.timeout(10_000),
        });
        const action = `Cannot provision account for user "${user.id}"`;
        if (res.status === 429) {
          // Retry-After is in seconds; Inngest takes milliseconds.
          const seconds = Number(res.headers.get("retry-after")) || 60;
          throw new RetryAfterError(`${action}: rate limited`, seconds * 1000);
        }
        if (res.status >= 400 && res.status < 500) {
          // A refusal will not change on a retry.
          throw new NonRetriableError(`${action}: the accounts service answered ${res.status}`);
        }
        if (!res.ok) throw new Error(`${action}: the accounts service answered ${res.status}`);
        const { id } = await res.json() as { id: string };
        return id;
      });
      deps.logger.info("Account provisioned", { user_id: user.id, account_id: accountId });
      return { userId: user.id, accountId };
    },
  );
}
