/**
 * Settings, parsed once from the environment at the entrypoint and passed in.
 *
 * They fall into groups that fail independently: a missing Resend key must
 * not stop webhooks from being accepted, and a missing Clerk secret must not
 * hide that the database settings are fine. Each group is one zod schema in
 * `settings/` (the schema is the documentation, the type and the validator
 * at once) and is either valid, with typed values, or invalid, with one
 * message per problem that names the variable. Values are never included in
 * messages.
 */
import { type Env, optional, type SettingsGroup } from "./settings/_schema.ts";
import {
  AUTH_EMAIL_SETTING_NAMES,
  type AuthEmailSettings,
  parseAuthEmailSettings,
} from "./settings/auth_emails.ts";
import { CLERK_API_SETTING_NAMES, parseClerkApi } from "./settings/clerk_api.ts";
import { DATABASE_SETTING_NAMES, parseDatabaseSettings } from "./settings/database.ts";
import type { DatabaseSettings } from "./settings/database.ts";
import { EMAIL_SETTING_NAMES, type EmailSettings, parseEmailSettings } from "./settings/email.ts";
import {
  EMAIL_COMPLIANCE_SETTING_NAMES,
  parseResendWebhookSettings,
  parseUnsubscribeSettings,
} from "./settings/email_compliance.ts";
import { EMAIL_COPY_SETTING_NAMES } from "./settings/email_copy.ts";
import { HEALTH_SETTING_NAMES, parseHealth } from "./settings/health.ts";
import {
  INNGEST_SETTING_NAMES,
  type InngestSettings,
  parseInngestSettings,
} from "./settings/inngest.ts";
import { parseSessionSettings, SESSION_SETTING_NAMES } from "./settings/session.ts";
import { NEWSLETTER_SETTING_NAMES, parseNewsletterSettings } from "./settings/newsletter.ts";
import { parseStripeSettings, STRIPE_SETTING_NAMES } from "./settings/stripe.ts";
import {
  parseWebhookSettings,
  WEBHOOK_SETTING_NAMES,
  type WebhookSettings,
} from "./settings/webhook.ts";

export {
  type Env,
  group,
  groupValue,
  isUrl,
  optional,
  type SettingsGroup,
} from "./settings/_schema.ts";
export type {
  AuthEmailSettings,
  DatabaseSettings,
  EmailSettings,
  InngestSettings,
  WebhookSettings,
};

/**
 * Every group's parser, by the group's name: the one list to extend when a
 * feature needs a group of its own (and its variables in
 * {@link SETTING_NAMES}, where `.env.example` lists them).
 */
const GROUPS = {
  webhook: parseWebhookSettings,
  inngest: parseInngestSettings,
  database: parseDatabaseSettings,
  email: parseEmailSettings,
  unsubscribe: parseUnsubscribeSettings,
  resendWebhook: parseResendWebhookSettings,
  health: parseHealth,
  clerkApi: parseClerkApi,
  session: parseSessionSettings,
  /** The newsletter: an optional feature, `undefined` while off. */
  newsletter: parseNewsletterSettings,
  /** The Stripe trial: an optional feature, `undefined` while off. */
  stripe: parseStripeSettings,
  /** Clerk's own emails: an optional feature, `undefined` while off. */
  authEmails: parseAuthEmailSettings,
} as const;

/** Every group, and which variables are present (never their values). */
export type Settings =
  & { readonly [Name in keyof typeof GROUPS]: ReturnType<(typeof GROUPS)[Name]> }
  & { readonly presence: Readonly<Record<string, "present" | "missing">> };

/** Every variable this app reads, in the order `.env.example` lists them. */
export const SETTING_NAMES = [
  ...WEBHOOK_SETTING_NAMES,
  ...INNGEST_SETTING_NAMES,
  ...DATABASE_SETTING_NAMES,
  ...EMAIL_SETTING_NAMES,
  ...EMAIL_COMPLIANCE_SETTING_NAMES,
  ...EMAIL_COPY_SETTING_NAMES,
  ...HEALTH_SETTING_NAMES,
  ...CLERK_API_SETTING_NAMES,
  ...SESSION_SETTING_NAMES,
  ...NEWSLETTER_SETTING_NAMES,
  ...STRIPE_SETTING_NAMES,
  ...AUTH_EMAIL_SETTING_NAMES,
] as const;

/** Parses every group of settings from `env`, each on its own. Never throws. */
export function parseSettings(env: Env): Settings {
  const presence = Object.fromEntries(
    SETTING_NAMES.map((name) => [name, optional(env[name]) ? "present" : "missing"] as const),
  );
  const groups = Object.fromEntries(
    Object.entries(GROUPS).map(([name, parse]) => [name, parse(env)]),
  );
  return { ...groups, presence } as Settings;
}

/**
 * Groups that local development can do without, by the variable that turns
 * them on: in dev mode, while it is unset, the features they serve (the
 * reconcile and `/users/me/sync`) are simply off, and the variable shows as
 * optional rather than as a problem. Set, it is validated as anywhere.
 */
const OPTIONAL_IN_DEV_MODE: Partial<Record<keyof Settings, string>> = {
  clerkApi: "CLERK_SECRET_KEY",
};

/**
 * Every problem of every group, for the start-up log line and `/health`.
 * In dev mode, a group of {@link OPTIONAL_IN_DEV_MODE} whose variable is
 * unset is no problem.
 */
export function allProblems(settings: Settings): string[] {
  const devMode = settings.inngest.ok && settings.inngest.value.mode === "dev";
  const problems = (Object.keys(settings) as (keyof Settings)[])
    .filter((name) => name !== "presence")
    .flatMap((name) => {
      const group = settings[name] as SettingsGroup<unknown>;
      if (group.ok) return [];
      const switchedBy = OPTIONAL_IN_DEV_MODE[name];
      if (devMode && switchedBy && settings.presence[switchedBy] === "missing") return [];
      return group.problems;
    });
  // A variable two groups read (TRIAL_DAYS: email copy and Stripe) is named once.
  return [...new Set(problems)];
}
