/**
 * Settings, parsed once from the environment at the entrypoint and passed in.
 *
 * They fall into groups that fail independently: a missing Resend key must
 * not stop webhooks from being accepted, and a missing Clerk secret must not
 * hide that the database settings are fine. Each group is either valid, with
 * typed values, or invalid, with one message per problem that names the
 * variable. Values are never included in messages.
 */
import { z } from "zod";
import { type Env, group, isUrl, optional, type SettingsGroup } from "./settings/_schema.ts";
import { DURATION } from "./util/duration.ts";
import {
  EMAIL_COMPLIANCE_SETTING_NAMES,
  parseResendWebhookSettings,
  parseUnsubscribeSettings,
  type ResendWebhookSettings,
  type UnsubscribeSettings,
} from "./settings/email_compliance.ts";
import {
  EMAIL_COPY_SETTING_NAMES,
  type EmailCopySettings,
  parseEmailCopy,
} from "./settings/email_copy.ts";
import { devModeRefusal, localOnlySecretProblem } from "./settings/deployment.ts";
import { type HealthSettings, parseHealth } from "./settings/health.ts";
import { type ClerkApiSettings, parseClerkApi } from "./settings/clerk_api.ts";
import { parseSessionSettings, type SessionSettings } from "./settings/session.ts";
import {
  NEWSLETTER_SETTING_NAMES,
  type NewsletterSettings,
  parseNewsletterSettings,
} from "./settings/newsletter.ts";
import type { FeatureGroup } from "./settings/features.ts";

export { type Env, group, isUrl, optional, type SettingsGroup } from "./settings/_schema.ts";

/** Settings of the Clerk webhook route. */
export interface WebhookSettings {
  /** Every accepted signing secret (several during a rotation). */
  readonly signingSecrets: readonly string[];
}

/** Settings of the Inngest client and serve handler. */
export interface InngestSettings {
  readonly mode: "dev" | "cloud";
  readonly eventKey?: string;
  readonly signingKey?: string;
  readonly signingKeyFallback?: string;
  /** The INNGEST_* variables as given, for the SDK to read. */
  readonly env: Readonly<Record<string, string>>;
  readonly serveOrigin?: string;
  readonly servePath?: string;
}

/** Settings of the Supabase client used by the workflows. */
export interface DatabaseSettings {
  readonly url: string;
  /** A secret key or the legacy service-role key: both bypass RLS. */
  readonly serviceKey: string;
}

/** Settings of the onboarding emails. */
export interface EmailSettings {
  readonly from: string;
  readonly appName: string;
  readonly appUrl: string;
  readonly trialOfferDelay: string;
  /** Absent in dry-run mode. */
  readonly resendApiKey?: string;
  readonly resendBaseUrl?: string;
  readonly dryRun: boolean;
  /** Most sends per second across the app, to stay under Resend's limit. */
  readonly maxSendsPerSecond: number;
  /** What the copy reads besides the app name and URL (settings/email_copy.ts). */
  readonly copy: EmailCopySettings;
}

/** Every group, and which variables are present (never their values). */
export interface Settings {
  readonly webhook: SettingsGroup<WebhookSettings>;
  readonly inngest: SettingsGroup<InngestSettings>;
  readonly database: SettingsGroup<DatabaseSettings>;
  readonly email: SettingsGroup<EmailSettings>;
  readonly unsubscribe: SettingsGroup<UnsubscribeSettings>;
  readonly resendWebhook: SettingsGroup<ResendWebhookSettings>;
  readonly health: SettingsGroup<HealthSettings>;
  readonly clerkApi: SettingsGroup<ClerkApiSettings>;
  readonly session: SettingsGroup<SessionSettings>;
  /** Optional: `undefined` while the newsletter is off. */
  readonly newsletter: FeatureGroup<NewsletterSettings>;
  readonly presence: Readonly<Record<string, "present" | "missing">>;
}

/** Every variable this app reads, in the order `.env.example` lists them. */
export const SETTING_NAMES = [
  "CLERK_WEBHOOK_SIGNING_SECRET",
  "INNGEST_EVENT_KEY",
  "INNGEST_SIGNING_KEY",
  "INNGEST_SIGNING_KEY_FALLBACK",
  "INNGEST_DEV",
  "INNGEST_BASE_URL",
  "INNGEST_EVENT_API_BASE_URL",
  "INNGEST_SERVE_ORIGIN",
  "INNGEST_SERVE_PATH",
  "SUPABASE_URL",
  "SUPABASE_SERVICE_ROLE_KEY",
  "SUPABASE_SECRET_KEYS",
  "RESEND_API_KEY",
  "RESEND_BASE_URL",
  "EMAIL_FROM",
  "EMAIL_DRY_RUN",
  "EMAIL_MAX_SENDS_PER_SECOND",
  "APP_NAME",
  "APP_URL",
  "ONBOARDING_TRIAL_OFFER_DELAY",
  ...EMAIL_COMPLIANCE_SETTING_NAMES,
  ...EMAIL_COPY_SETTING_NAMES,
  "HEALTH_TOKEN",
  "CLERK_SECRET_KEY",
  "CLERK_API_URL",
  "CLERK_RECONCILE_CRON",
  "CLERK_API_REQUEST_BUDGET",
  "CLERK_JWT_KEY",
  "CLERK_AUTHORIZED_PARTIES",
  "CORS_ALLOWED_ORIGINS",
  ...NEWSLETTER_SETTING_NAMES,
] as const;

const INNGEST_ENV_NAMES = SETTING_NAMES.filter((name) => name.startsWith("INNGEST_"));

const isBase64 = (value: string) => {
  try {
    return atob(value).length > 0;
  } catch {
    return false;
  }
};

const BOOLEAN_TRUE = ["1", "true", "yes", "on"];
const BOOLEAN_FALSE = ["0", "false", "no", "off"];

/** A bare address, or a display name with the address in angle brackets. */
const EMAIL_FROM = /^(?:[^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/;

/** Parses every group of settings from `env`. Never throws. */
export function parseSettings(env: Env): Settings {
  const presence = Object.fromEntries(
    SETTING_NAMES.map((name) => [name, optional(env[name]) ? "present" : "missing"] as const),
  );
  return {
    webhook: parseWebhook(env),
    inngest: parseInngest(env),
    database: parseDatabase(env),
    email: parseEmail(env),
    unsubscribe: parseUnsubscribeSettings(env),
    resendWebhook: parseResendWebhookSettings(env),
    health: parseHealth(env),
    clerkApi: parseClerkApi(env),
    session: parseSessionSettings(env),
    newsletter: parseNewsletterSettings(env),
    presence,
  };
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
  const groups: (keyof Settings)[] = [
    "webhook",
    "inngest",
    "database",
    "email",
    "unsubscribe",
    "resendWebhook",
    "health",
    "clerkApi",
    "session",
    "newsletter",
  ];
  return groups.flatMap((name) => {
    const group = settings[name] as SettingsGroup<unknown>;
    if (group.ok) return [];
    const switchedBy = OPTIONAL_IN_DEV_MODE[name];
    if (devMode && switchedBy && settings.presence[switchedBy] === "missing") return [];
    return group.problems;
  });
}

function parseWebhook(env: Env): SettingsGroup<WebhookSettings> {
  const name = "CLERK_WEBHOOK_SIGNING_SECRET";
  const raw = optional(env[name]);
  const secrets = raw?.split(/\s+/) ?? [];
  const problems: string[] = [];
  if (!raw) {
    problems.push(`${name} is missing: copy the signing secret (whsec_...) of the Clerk endpoint`);
  } else if (!secrets.every((s) => s.startsWith("whsec_") && isBase64(s.slice(6)))) {
    problems.push(
      `${name} must be one or more whsec_<base64> secrets separated by spaces`,
    );
  } else {
    const localOnly = localOnlySecretProblem(name, secrets, env);
    if (localOnly) problems.push(localOnly);
  }
  return group(problems, () => ({ signingSecrets: secrets }));
}

function parseInngest(env: Env): SettingsGroup<InngestSettings> {
  const problems: string[] = [];
  const dev = optional(env.INNGEST_DEV);
  let mode: "dev" | "cloud" = "cloud";
  if (dev !== undefined) {
    if (BOOLEAN_TRUE.includes(dev.toLowerCase()) || isUrl(dev)) mode = "dev";
    else if (!BOOLEAN_FALSE.includes(dev.toLowerCase())) {
      problems.push("INNGEST_DEV must be 1, 0, or the Dev Server's URL");
    }
  }
  for (const name of ["INNGEST_BASE_URL", "INNGEST_EVENT_API_BASE_URL", "INNGEST_SERVE_ORIGIN"]) {
    const value = optional(env[name]);
    if (value !== undefined && !isUrl(value)) problems.push(`${name} must be an http(s) URL`);
  }
  const servePath = optional(env.INNGEST_SERVE_PATH);
  if (servePath !== undefined && !servePath.startsWith("/")) {
    problems.push("INNGEST_SERVE_PATH must start with /, e.g. /functions/v1/clerk-events/inngest");
  }
  const refusal = devModeRefusal(env);
  if (refusal) problems.push(refusal);
  if (mode === "cloud") {
    if (!optional(env.INNGEST_EVENT_KEY)) {
      problems.push("INNGEST_EVENT_KEY is missing: needed to send events to Inngest Cloud");
    }
    const signingKey = optional(env.INNGEST_SIGNING_KEY);
    if (!signingKey) {
      problems.push("INNGEST_SIGNING_KEY is missing: needed to verify calls from Inngest Cloud");
    } else if (!signingKey.startsWith("signkey-")) {
      problems.push("INNGEST_SIGNING_KEY must start with signkey-");
    }
    const fallback = optional(env.INNGEST_SIGNING_KEY_FALLBACK);
    if (fallback !== undefined && !fallback.startsWith("signkey-")) {
      problems.push("INNGEST_SIGNING_KEY_FALLBACK must start with signkey-");
    }
  }
  return group(problems, () => ({
    mode,
    eventKey: optional(env.INNGEST_EVENT_KEY),
    signingKey: optional(env.INNGEST_SIGNING_KEY),
    signingKeyFallback: optional(env.INNGEST_SIGNING_KEY_FALLBACK),
    env: Object.fromEntries(
      INNGEST_ENV_NAMES.flatMap((name) => {
        const value = optional(env[name]);
        return value === undefined ? [] : [[name, value]];
      }),
    ),
    serveOrigin: optional(env.INNGEST_SERVE_ORIGIN),
    servePath,
  }));
}

const secretKeysSchema = z.record(z.string(), z.string().min(1));

function parseDatabase(env: Env): SettingsGroup<DatabaseSettings> {
  const problems: string[] = [];
  const url = optional(env.SUPABASE_URL);
  if (!url) problems.push("SUPABASE_URL is missing");
  else if (!isUrl(url)) problems.push("SUPABASE_URL must be an http(s) URL");

  let serviceKey = optional(env.SUPABASE_SERVICE_ROLE_KEY);
  const secretKeys = optional(env.SUPABASE_SECRET_KEYS);
  if (secretKeys !== undefined) {
    let parsed: z.ZodSafeParseResult<Record<string, string>> | undefined;
    try {
      parsed = secretKeysSchema.safeParse(JSON.parse(secretKeys));
    } catch {
      parsed = undefined;
    }
    const keys = parsed?.success ? parsed.data : undefined;
    const chosen = keys ? keys.default ?? Object.values(keys)[0] : undefined;
    if (chosen) serviceKey = chosen;
    else {
      problems.push(
        'SUPABASE_SECRET_KEYS must be a JSON object such as {"default":"sb_secret_..."}',
      );
    }
  }
  if (!serviceKey && secretKeys === undefined) {
    problems.push("SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SECRET_KEYS is missing");
  }
  return group(problems, () => ({ url: url!, serviceKey: serviceKey! }));
}

function parseEmail(env: Env): SettingsGroup<EmailSettings> {
  const problems: string[] = [];
  const from = optional(env.EMAIL_FROM);
  if (!from) problems.push('EMAIL_FROM is missing: the sender, as an address or "Name <address>"');
  else if (!EMAIL_FROM.test(from)) {
    problems.push('EMAIL_FROM must be an address or "Name <address>"');
  }

  const appName = optional(env.APP_NAME);
  if (!appName) problems.push("APP_NAME is missing: it appears in the email copy");
  const appUrl = optional(env.APP_URL);
  if (!appUrl) problems.push("APP_URL is missing: the emails link to it");
  else if (!isUrl(appUrl)) problems.push("APP_URL must be an http(s) URL");

  const delay = optional(env.ONBOARDING_TRIAL_OFFER_DELAY) ?? "3d";
  if (!DURATION.test(delay)) {
    problems.push(
      "ONBOARDING_TRIAL_OFFER_DELAY must be an Inngest duration such as 3d, 12h or 30m",
    );
  }

  const rawDryRun = optional(env.EMAIL_DRY_RUN)?.toLowerCase();
  let dryRun = false;
  if (rawDryRun !== undefined) {
    if (BOOLEAN_TRUE.includes(rawDryRun)) dryRun = true;
    else if (!BOOLEAN_FALSE.includes(rawDryRun)) {
      problems.push("EMAIL_DRY_RUN must be true or false");
    }
  }
  const resendApiKey = optional(env.RESEND_API_KEY);
  if (!resendApiKey && !dryRun) {
    problems.push(
      "RESEND_API_KEY is missing: set it, or set EMAIL_DRY_RUN=true to record emails without sending",
    );
  }
  const resendBaseUrl = optional(env.RESEND_BASE_URL);
  if (resendBaseUrl !== undefined && !isUrl(resendBaseUrl)) {
    problems.push("RESEND_BASE_URL must be an http(s) URL");
  }

  const rawRate = optional(env.EMAIL_MAX_SENDS_PER_SECOND) ?? "2";
  const rate = Number(rawRate);
  if (!Number.isInteger(rate) || rate < 1 || rate > 1000) {
    problems.push("EMAIL_MAX_SENDS_PER_SECOND must be a whole number from 1 to 1000");
  }

  const copy = parseEmailCopy(env, {
    appUrl: appUrl && isUrl(appUrl) ? appUrl : undefined,
    from: from && EMAIL_FROM.test(from) ? from : undefined,
  });
  problems.push(...copy.problems);

  return group(problems, () => ({
    from: from!,
    appName: appName!,
    appUrl: appUrl!,
    trialOfferDelay: delay,
    resendApiKey,
    resendBaseUrl,
    dryRun,
    maxSendsPerSecond: rate,
    copy: copy.value!,
  }));
}
