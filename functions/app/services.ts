/**
 * The stores and clients the app's routes and workflows share, each built
 * on first use. Everything heavy (supabase-js, resend, the Clerk Backend
 * API client) is loaded with `import()` here, never statically, so that the
 * webhook path loads none of it (see the cold-start benchmark, and
 * `scripts/build.ts`, which splits the bundle at these imports).
 *
 * A service whose settings group is invalid rejects when first used,
 * naming the problems; building the app never fails.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import type { BudgetClock } from "../clerk/request_budget.ts";
import type { ClerkClient } from "../clerk/configured_api.ts";
import type { DeliveriesStore } from "../email/deliveries_store.ts";
import type { Mailer } from "../email/mailer.ts";
import type { EmailPreferencesStore } from "../email/preferences_store.ts";
import { lazy } from "../util/lazy.ts";
import type { EmailSettings, Settings, SettingsGroup } from "../settings.ts";
import type { ReconcileStore } from "../reconcile/reconcile_store.ts";
import type { UsersStore } from "../users/users_store.ts";
import type { OrganizationsStore } from "../organizations/store.ts";
import type { OrganizationsReconcileStore } from "../organizations/reconcile_store.ts";

/** The app's shared services, each resolved once on first use. */
export interface AppServices {
  readonly supabase: () => Promise<SupabaseClient>;
  readonly users: () => Promise<UsersStore>;
  readonly deliveries: () => Promise<DeliveriesStore>;
  readonly preferences: () => Promise<EmailPreferencesStore>;
  readonly reconcileStore: () => Promise<ReconcileStore>;
  readonly organizations: () => Promise<OrganizationsStore>;
  readonly organizationsReconcileStore: () => Promise<OrganizationsReconcileStore>;
  /** The email settings; throws, naming the problems, while they are invalid. */
  readonly email: () => EmailSettings;
  readonly mailer: () => Promise<Mailer>;
  /** One Backend API client for the app: one request budget for every call. */
  readonly clerk: () => Promise<ClerkClient>;
}

/**
 * Builds the services from `settings`; `fetch` is used for every outgoing
 * request, `clerkBudgetClock` (for tests) by the Clerk request budget.
 */
export function createAppServices(
  settings: Settings,
  fetchImpl?: typeof fetch,
  clerkBudgetClock?: BudgetClock,
): AppServices {
  const supabase = lazy(async () => {
    const database = required(settings.database, "Cannot reach the database");
    const { createServiceClient } = await import("../database/supabase_client.ts");
    return createServiceClient(database, fetchImpl);
  });
  const email = () => required(settings.email, "Cannot send email");
  return {
    supabase,
    users: lazy(async () => {
      const { createSupabaseUsersStore } = await import("../users/supabase_users_store.ts");
      return createSupabaseUsersStore(await supabase());
    }),
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
    reconcileStore: lazy(async () => {
      const { createSupabaseReconcileStore } = await import(
        "../reconcile/supabase_reconcile_store.ts"
      );
      return createSupabaseReconcileStore(await supabase());
    }),
    organizations: lazy(async () => {
      const { createSupabaseOrganizationsStore } = await import(
        "../organizations/supabase_store.ts"
      );
      return createSupabaseOrganizationsStore(await supabase());
    }),
    organizationsReconcileStore: lazy(async () => {
      const { createSupabaseOrganizationsReconcileStore } = await import(
        "../organizations/supabase_reconcile_store.ts"
      );
      return createSupabaseOrganizationsReconcileStore(await supabase());
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

/** The group's value, or an Error `<action>: <problems>`. */
export function required<T>(group: SettingsGroup<T>, action: string): T {
  if (group.ok) return group.value;
  throw new Error(`${action}: ${group.problems.join("; ")}`);
}
