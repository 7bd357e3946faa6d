/**
 * Clerk's own emails, an optional feature: on while `AUTH_EMAIL_FROM` is
 * set. Clerk hands the app the emails whose template is not "Delivered by
 * Clerk" as the webhook `email.created`, already rendered; the webhook
 * request itself sends each through Resend, from your own domain, and
 * answers 2xx only once Resend accepted it (`stage.ts`, `delivery.ts`,
 * docs/auth-emails.md).
 *
 * Its webhook stage runs in every state, off included: it is what keeps
 * the message (subject, bodies, the template's variables) out of the event
 * forwarded to Inngest. The Resend SDK and the ledger's database client
 * load on the first email that needs them, never for other events.
 */
import type { Feature, FeatureContext } from "../feature/feature.ts";
import { AUTH_EMAILS_OFF_REASON } from "../settings/auth_emails.ts";
import { describeFeature } from "../settings/features.ts";
import { lazy } from "../util/lazy.ts";
import { emailCreated } from "./events.ts";
import { createAuthEmailStage } from "./stage.ts";

/** Builds Clerk's own emails. */
export function authEmailsFeature(context: FeatureContext): Feature {
  const { settings, services, logger } = context;
  const group = settings.authEmails;
  const off = group.ok && group.value === undefined;
  const resend = group.ok ? group.value : undefined;
  const mailer = lazy(async () => {
    if (!resend?.resendApiKey) {
      throw new Error("Cannot send Clerk's emails: RESEND_API_KEY is missing");
    }
    const { createResendMailer } = await import("../email/resend_mailer.ts");
    return createResendMailer({ apiKey: resend.resendApiKey, baseUrl: resend.resendBaseUrl });
  });
  const ledger = lazy(async () => {
    const { createSupabaseAuthEmailLedger } = await import("./supabase_ledger.ts");
    return createSupabaseAuthEmailLedger(await services.supabase());
  });
  return {
    name: "auth_emails",
    optional: true,
    state: describeFeature(group, AUTH_EMAILS_OFF_REASON),
    // Validated only while the feature reads them; redacted in every state.
    events: off ? [] : [emailCreated],
    webhook: [createAuthEmailStage({ settings: group, ledger, mailer, logger })],
  };
}
