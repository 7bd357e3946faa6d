/**
 * The app's one Backend API client, built from the Clerk API settings on
 * first use, so that one request budget covers every call.
 */
import type { SettingsGroup } from "../settings.ts";
import type { ClerkApiSettings } from "../settings/clerk_api.ts";
import { type ClerkBackendApi, createClerkBackendApi } from "./backend_api.ts";
import { createRequestLimiter } from "./request_budget.ts";

/**
 * Returns the client; throws `<action>: <problems>` while the settings are
 * invalid (say, `CLERK_SECRET_KEY is missing: ...`).
 */
export function configuredClerkApi(
  settings: SettingsGroup<ClerkApiSettings>,
  action: string,
  fetchImpl?: typeof fetch,
): () => ClerkBackendApi {
  let client: ClerkBackendApi | undefined;
  return () => {
    if (!settings.ok) throw new Error(`${action}: ${settings.problems.join("; ")}`);
    const { secretKey, apiUrl, requestBudget } = settings.value;
    client ??= createClerkBackendApi({
      secretKey,
      apiUrl,
      fetch: fetchImpl,
      limiter: createRequestLimiter(requestBudget),
    });
    return client;
  };
}
