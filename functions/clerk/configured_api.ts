/**
 * Builds the Backend API client from the Clerk API settings, with the
 * request budget they set. Import it lazily: the webhook path never needs it.
 */
import type { SettingsGroup } from "../settings/_schema.ts";
import type { ClerkApiSettings } from "../settings/clerk_api.ts";
import type { ClerkBackendApi } from "./backend_api.ts";
import type { BudgetClock } from "./request_budget.ts";

/**
 * Resolves to the client; rejects with `<action>: <problems>` while the
 * settings are invalid (say, `CLERK_SECRET_KEY is missing: ...`).
 */
export async function configuredClerkApi(
  settings: SettingsGroup<ClerkApiSettings>,
  action: string,
  fetchImpl?: typeof fetch,
  budgetClock?: BudgetClock,
): Promise<ClerkBackendApi> {
  if (!settings.ok) throw new Error(`${action}: ${settings.problems.join("; ")}`);
  const { secretKey, apiUrl, requestBudget } = settings.value;
  const [{ createClerkBackendApi }, { createRequestLimiter }] = await Promise.all([
    import("./backend_api.ts"),
    import("./request_budget.ts"),
  ]);
  return createClerkBackendApi({
    secretKey,
    apiUrl,
    fetch: fetchImpl,
    limiter: createRequestLimiter({ ...requestBudget, clock: budgetClock }),
  });
}
