/**
 * The shared services (`../feature/services.ts`), each built on first use.
 * Everything heavy (supabase-js, resend, the Clerk Backend API client) is
 * loaded with `import()` here, never statically, so that the webhook path
 * loads none of it (see the cold-start benchmark, and `scripts/build.ts`,
 * which splits the bundle at these imports).
 */
import type { BudgetClock } from "../clerk/request_budget.ts";
import type { Services } from "../feature/services.ts";
import { groupValue, type Settings } from "../settings.ts";
import { lazy } from "../util/lazy.ts";

/**
 * Builds the services from `settings`; `fetch` is used for every outgoing
 * request, `clerkBudgetClock` (for tests) by the Clerk request budget. A
 * service whose settings group is invalid rejects when first used, naming
 * the problems; building them never fails.
 */
export function createServices(
  settings: Settings,
  fetchImpl?: typeof fetch,
  clerkBudgetClock?: BudgetClock,
): Services {
  const supabase = lazy(async () => {
    const database = groupValue(settings.database, "Cannot reach the database");
    const { createServiceClient } = await import("../database/supabase_client.ts");
    return createServiceClient(database, fetchImpl);
  });
  const email = () => groupValue(settings.email, "Cannot send email");
  return {
    supabase,
    deliveries: lazy(async () => {
      const { createSupabaseDeliveriesStore } = await import(
        "../email/supabase_deliveries_store.ts"
      );
      return createSupabaseDeliveriesStore(await supabase());
    }),
    preferences: lazy(async () => {
      const { createSupabasePreferencesStore } = await import(
        "../email/supabase_preferences_store.ts"
      );
      return createSupabasePreferencesStore(await supabase());
    }),
    email,
    mailer: lazy(async () => {
      const { resendApiKey, resendBaseUrl } = email();
      if (!resendApiKey) throw new Error("Cannot send email: RESEND_API_KEY is missing");
      const { createResendMailer } = await import("../email/resend_mailer.ts");
      return createResendMailer({ apiKey: resendApiKey, baseUrl: resendBaseUrl });
    }),
    clerk: lazy(async () => {
      const { configuredClerkApi } = await import("../clerk/configured_api.ts");
      return configuredClerkApi(
        settings.clerkApi,
        "Cannot call Clerk's Backend API",
        fetchImpl,
        clerkBudgetClock,
      );
    }),
  };
}
