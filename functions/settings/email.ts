/**
 * Settings of the onboarding emails: the sender, Resend, the pace of
 * sending, and the copy (settings/email_copy.ts).
 */
import { z } from "zod";
import { DURATION } from "../util/duration.ts";
import {
  type Env,
  flag,
  isUrl,
  optional,
  optionalUrl,
  parseGroup,
  required,
  type SettingsGroup,
} from "./_schema.ts";
import { EMAIL_COPY_SETTING_NAMES, type EmailCopySettings, parseEmailCopy } from "./email_copy.ts";

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

/** The defaults of the group, written once. */
export const EMAIL_DEFAULTS = {
  /** An Inngest duration: three days between the welcome and the trial offer. */
  trialOfferDelay: "3d",
  /** Resend's default limit is 2 requests per second per team. */
  maxSendsPerSecond: 2,
} as const;

/** The variables of the group, in the order `.env.example` lists them. */
export const EMAIL_SETTING_NAMES = [
  "RESEND_API_KEY",
  "RESEND_BASE_URL",
  "EMAIL_FROM",
  "EMAIL_DRY_RUN",
  "EMAIL_MAX_SENDS_PER_SECOND",
  "APP_NAME",
  "APP_URL",
  "ONBOARDING_TRIAL_OFFER_DELAY",
] as const;

/** A sender: a bare address, or a display name with the address in angle brackets. */
export const SENDER = /^(?:[^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/;

const schema = z.object({
  EMAIL_FROM: required('EMAIL_FROM is missing: the sender, as an address or "Name <address>"')
    .regex(SENDER, { error: 'EMAIL_FROM must be an address or "Name <address>"' }),
  APP_NAME: required("APP_NAME is missing: it appears in the email copy"),
  APP_URL: required("APP_URL is missing: the emails link to it")
    .refine(isUrl, { error: "APP_URL must be an http(s) URL" }),
  ONBOARDING_TRIAL_OFFER_DELAY: z.string()
    .regex(DURATION, {
      error: "ONBOARDING_TRIAL_OFFER_DELAY must be an Inngest duration such as 3d, 12h or 30m",
    })
    .default(EMAIL_DEFAULTS.trialOfferDelay),
  EMAIL_DRY_RUN: flag("EMAIL_DRY_RUN", false),
  RESEND_API_KEY: z.string().optional(),
  RESEND_BASE_URL: optionalUrl("RESEND_BASE_URL"),
  EMAIL_MAX_SENDS_PER_SECOND: z.coerce.number<string>()
    .int({ error: "EMAIL_MAX_SENDS_PER_SECOND must be a whole number from 1 to 1000" })
    .min(1, { error: "EMAIL_MAX_SENDS_PER_SECOND must be a whole number from 1 to 1000" })
    .max(1000, { error: "EMAIL_MAX_SENDS_PER_SECOND must be a whole number from 1 to 1000" })
    .default(EMAIL_DEFAULTS.maxSendsPerSecond),
}).refine((value) => value.RESEND_API_KEY || value.EMAIL_DRY_RUN, {
  error:
    "RESEND_API_KEY is missing: set it, or set EMAIL_DRY_RUN=true to record emails without sending",
  when: (payload) => payload.value !== undefined,
});

/** Parses the email group, with its copy. Never throws. */
export function parseEmailSettings(env: Env): SettingsGroup<EmailSettings> {
  const parsed = parseGroup(schema, env, (value) => value);
  const problems = parsed.ok ? [] : [...parsed.problems];
  const value = parsed.ok ? parsed.value : undefined;
  // The copy's defaults depend on the sender and the app's URL: given only
  // when those are valid, so that one mistake is not reported twice.
  const from = optional(env.EMAIL_FROM);
  const appUrl = optional(env.APP_URL);
  const copy = parseEmailCopy(env, {
    appUrl: appUrl && isUrl(appUrl) ? appUrl : undefined,
    from: from && SENDER.test(from) ? from : undefined,
  });
  problems.push(...copy.problems);
  if (problems.length || !value) return { ok: false, problems };
  return {
    ok: true,
    value: {
      from: value.EMAIL_FROM,
      appName: value.APP_NAME,
      appUrl: value.APP_URL,
      trialOfferDelay: value.ONBOARDING_TRIAL_OFFER_DELAY,
      resendApiKey: value.RESEND_API_KEY,
      resendBaseUrl: value.RESEND_BASE_URL,
      dryRun: value.EMAIL_DRY_RUN,
      maxSendsPerSecond: value.EMAIL_MAX_SENDS_PER_SECOND,
      copy: copy.value!,
    },
  };
}

export { EMAIL_COPY_SETTING_NAMES };
