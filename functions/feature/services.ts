/**
 * The clients and stores that several features share, each built on first
 * use by the composition root (`../app/services.ts`). Everything heavy
 * (supabase-js, resend, the Clerk Backend API client) loads with `import()`
 * there, so that the webhook path loads none of it.
 *
 * A service whose settings group is invalid rejects (or throws) when first
 * used, naming the problems; building the app never fails. A feature's own
 * stores are built in its folder, from {@link Services.supabase}.
 */
import type { SupabaseClient } from "@supabase/supabase-js";
import type { ClerkClient } from "../clerk/configured_api.ts";
import type { DeliveriesStore } from "../email/deliveries_store.ts";
import type { Mailer } from "../email/mailer.ts";
import type { EmailPreferencesStore } from "../email/preferences_store.ts";
import type { EmailSettings } from "../settings.ts";

/** The shared services, each resolved once on first use. */
export interface Services {
  /** The service-role supabase-js client. */
  readonly supabase: () => Promise<SupabaseClient>;
  /** `public.email_deliveries`: the ledger of every email sent or skipped. */
  readonly deliveries: () => Promise<DeliveriesStore>;
  /** `public.email_preferences`: marketing opt-outs and newsletter consent. */
  readonly preferences: () => Promise<EmailPreferencesStore>;
  /** The email settings; throws, naming the problems, while they are invalid. */
  readonly email: () => EmailSettings;
  /** Resend, with the email settings' key. */
  readonly mailer: () => Promise<Mailer>;
  /** One Backend API client for the app: one request budget for every call. */
  readonly clerk: () => Promise<ClerkClient>;
}
