/**
 * Builds the Backend API client from the Clerk API settings, with the
 * request budget they set. Import it lazily: the webhook path never needs it.
 */
import type { SettingsGroup } from "../settings/_schema.ts";
import type { ClerkApiSettings } from "../settings/clerk_api.ts";
import type { ClerkBackendApi } from "./backend_api.ts";
import type { ClerkBillingApi } from "./billing_api.ts";
import type { ClerkOrganizationsApi } from "./organizations_api.ts";
import type { BudgetClock } from "./request_budget.ts";

/** The app's Backend API client: users, organizations and billing, one request budget. */
export type ClerkClient = ClerkBackendApi & ClerkOrganizationsApi & ClerkBillingApi;

/**
 * Resolves to the client; rejects with `<action>: <problems>` while the
 * settings are invalid (say, `CLERK_SECRET_KEY is missing: ...`).
 */
export async function configuredClerkApi(
  settings: SettingsGroup<ClerkApiSettings>,
  action: string,
  fetchImpl?: typeof fetch,
  budgetClock?: BudgetClock,
): Promise<ClerkClient> {
  if (!settings.ok) throw new Error(`${action}: ${settings.problems.join("; ")}`);
  const { secretKey, apiUrl, requestBudget } = settings.value;
  const [{ createClerkBackendApi, createClerkGet }, { createClerkOrganizationsApi }, {
    createRequestLimiter,
  }, { createClerkBillingApi }] = await Promise.all([
    import("./backend_api.ts"),
    import("./organizations_api.ts"),
    import("./request_budget.ts"),
    import("./billing_api.ts"),
  ]);
  const options = {
    secretKey,
    apiUrl,
    fetch: fetchImpl,
    limiter: createRequestLimiter({ ...requestBudget, clock: budgetClock }),
  };
  const get = createClerkGet(options);
  return {
    ...createClerkBackendApi(options, get),
    ...createClerkOrganizationsApi(get),
    ...createClerkBillingApi(get),
  };
}
