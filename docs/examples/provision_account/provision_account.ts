/**
 * `provision-account`, on `clerk/user.created`: creates the new user's account
 * in your product's accounts service (`POST <ACCOUNTS_API_URL>/accounts`), once
 * per user, however often Clerk, Svix or Inngest deliver or retry the event.
 *
 * The worked example of docs/extending.md. In your project this folder is
 * `functions/provision_account/`, and its imports start with `../` instead of
 * `../../../functions/`.
 */
import type { Inngest } from "inngest";
import { clerkUserSchema } from "../../../functions/clerk/schemas.ts";
import { userCreated } from "../../../functions/inngest/events.ts";
import { parseInput, providerFailure } from "../../../functions/inngest/step_errors.ts";
import type { Logger } from "../../../functions/util/log.ts";
import { failureKind, parseRetryAfter } from "../../../functions/util/provider_failure.ts";

/** The function id: Inngest keys runs, history and idempotency by it. */
export const PROVISION_ACCOUNT_FUNCTION_ID = "provision-account";

/** What `provision-account` needs, passed in by its feature. */
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
        if (!res.ok) {
          await res.body?.cancel();
          // The project's one reading of a failure: a 429 waits for
          // Retry-After, a refused key waits out a rotation, another 4xx is
          // final, the rest is retried on Inngest's back-off.
          const failure = Object.assign(new Error(`the accounts service answered ${res.status}`), {
            kind: failureKind(res.status),
            retryAfterMs: parseRetryAfter(res.headers.get("retry-after")),
          });
          throw providerFailure(`Cannot provision account for user "${user.id}"`, failure);
        }
        const { id } = await res.json() as { id: string };
        return id;
      });
      deps.logger.info("Account provisioned", { user_id: user.id, account_id: accountId });
      return { userId: user.id, accountId };
    },
  );
}
