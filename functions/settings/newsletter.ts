/**
 * Settings of the product newsletter, an optional feature: off while none
 * of its variables is set, and then exactly one provider.
 *
 * - Mailchimp: `MAILCHIMP_API_KEY` (`<key>-<dc>`, the data center after the
 *   last dash), `MAILCHIMP_AUDIENCE_ID`, `MAILCHIMP_WEBHOOK_SECRET` (the
 *   secret in the URL of Mailchimp's audience webhook, without which
 *   Mailchimp's unsubscribes would never reach us), and optionally
 *   `MAILCHIMP_API_URL` (default `https://<dc>.api.mailchimp.com/3.0`).
 * - Resend's contacts: `RESEND_NEWSLETTER_SEGMENT_ID`, through the same
 *   `RESEND_API_KEY` (and `RESEND_BASE_URL`) as the emails.
 *
 * Both providers set at once is a problem, not a precedence: opt-outs flow
 * both ways with one provider, and a silent choice would leave the other
 * list unsynced while the operator believes it is fed (docs/newsletter.md).
 */
import { z } from "zod";
import { type Env, isUrl, parseGroup, type SettingsGroup } from "./_schema.ts";
import { type FeatureGroup, optionalFeature } from "./features.ts";

/** Mailchimp as the newsletter's provider. */
export interface MailchimpSettings {
  readonly provider: "mailchimp";
  readonly apiKey: string;
  /** The data center, e.g. `us21`. */
  readonly dataCenter: string;
  readonly audienceId: string;
  /** The API's base URL, without a trailing slash. */
  readonly apiUrl: string;
  /** Every accepted webhook secret (several during a rotation). */
  readonly webhookSecrets: readonly string[];
}

/** Resend's contacts as the newsletter's provider. */
export interface ResendContactsSettings {
  readonly provider: "resend";
  readonly apiKey: string;
  readonly baseUrl?: string;
  readonly segmentId: string;
}

/** The newsletter's settings: one provider. */
export type NewsletterSettings = MailchimpSettings | ResendContactsSettings;

/** The variables that turn the newsletter on, in the order `.env.example` lists them. */
export const NEWSLETTER_SETTING_NAMES = [
  "MAILCHIMP_API_KEY",
  "MAILCHIMP_AUDIENCE_ID",
  "MAILCHIMP_API_URL",
  "MAILCHIMP_WEBHOOK_SECRET",
  "RESEND_NEWSLETTER_SEGMENT_ID",
] as const;

/** Fewest characters of a webhook secret (`openssl rand -hex 16` gives 32). */
export const MIN_MAILCHIMP_WEBHOOK_SECRET_LENGTH = 24;

const MAILCHIMP_KEY = /^[0-9a-zA-Z]+-([a-z]+[0-9]+)$/;
const ID = /^[A-Za-z0-9_-]+$/;

const schema = z.object({
  MAILCHIMP_API_KEY: z.string().optional(),
  MAILCHIMP_AUDIENCE_ID: z.string().optional(),
  MAILCHIMP_API_URL: z.string().optional(),
  MAILCHIMP_WEBHOOK_SECRET: z.string().optional(),
  RESEND_NEWSLETTER_SEGMENT_ID: z.string().optional(),
  RESEND_API_KEY: z.string().optional(),
  RESEND_BASE_URL: z.string().optional(),
}).superRefine((env, ctx) => {
  const problem = (message: string) => ctx.addIssue({ code: "custom", message });
  const mailchimp = env.MAILCHIMP_API_KEY || env.MAILCHIMP_AUDIENCE_ID ||
    env.MAILCHIMP_API_URL || env.MAILCHIMP_WEBHOOK_SECRET;
  if (mailchimp && env.RESEND_NEWSLETTER_SEGMENT_ID) {
    problem(
      "MAILCHIMP_* and RESEND_NEWSLETTER_SEGMENT_ID are both set: the newsletter has one " +
        "provider, unset the one you do not use",
    );
    return;
  }
  if (mailchimp) {
    if (!env.MAILCHIMP_API_KEY) {
      problem("MAILCHIMP_API_KEY is missing: create one under Account > Extras > API keys");
    } else if (!MAILCHIMP_KEY.test(env.MAILCHIMP_API_KEY)) {
      problem("MAILCHIMP_API_KEY must end with its data center, e.g. <key>-us21");
    }
    if (!env.MAILCHIMP_AUDIENCE_ID) {
      problem("MAILCHIMP_AUDIENCE_ID is missing: the audience's id (Audience > Settings)");
    } else if (!ID.test(env.MAILCHIMP_AUDIENCE_ID)) {
      problem("MAILCHIMP_AUDIENCE_ID must be an audience id such as a1b2c3d4e5");
    }
    if (env.MAILCHIMP_API_URL !== undefined && !isUrl(env.MAILCHIMP_API_URL)) {
      problem("MAILCHIMP_API_URL must be an http(s) URL");
    }
    const secrets = env.MAILCHIMP_WEBHOOK_SECRET?.split(/\s+/) ?? [];
    if (!secrets.length) {
      problem(
        "MAILCHIMP_WEBHOOK_SECRET is missing: generate one with `openssl rand -hex 16`; " +
          "Mailchimp's webhook URL carries it, so that its unsubscribes reach us",
      );
    } else if (secrets.some((s: string) => s.length < MIN_MAILCHIMP_WEBHOOK_SECRET_LENGTH)) {
      problem(
        `MAILCHIMP_WEBHOOK_SECRET must be at least ${MIN_MAILCHIMP_WEBHOOK_SECRET_LENGTH} ` +
          "characters (openssl rand -hex 16), several separated by spaces",
      );
    }
  } else if (env.RESEND_NEWSLETTER_SEGMENT_ID) {
    if (!ID.test(env.RESEND_NEWSLETTER_SEGMENT_ID)) {
      problem("RESEND_NEWSLETTER_SEGMENT_ID must be a segment id (Audience > Segments)");
    }
    if (!env.RESEND_API_KEY) {
      problem("RESEND_API_KEY is missing: Resend's contacts need it for the newsletter");
    }
    if (env.RESEND_BASE_URL !== undefined && !isUrl(env.RESEND_BASE_URL)) {
      problem("RESEND_BASE_URL must be an http(s) URL");
    }
  }
}).transform((env): NewsletterSettings => {
  if (env.RESEND_NEWSLETTER_SEGMENT_ID) {
    return {
      provider: "resend",
      apiKey: env.RESEND_API_KEY!,
      baseUrl: env.RESEND_BASE_URL,
      segmentId: env.RESEND_NEWSLETTER_SEGMENT_ID,
    };
  }
  const dataCenter = MAILCHIMP_KEY.exec(env.MAILCHIMP_API_KEY!)![1];
  return {
    provider: "mailchimp",
    apiKey: env.MAILCHIMP_API_KEY!,
    dataCenter,
    audienceId: env.MAILCHIMP_AUDIENCE_ID!,
    apiUrl: (env.MAILCHIMP_API_URL ?? `https://${dataCenter}.api.mailchimp.com/3.0`)
      .replace(/\/+$/, ""),
    webhookSecrets: env.MAILCHIMP_WEBHOOK_SECRET!.split(/\s+/),
  };
});

/**
 * Parses the newsletter's settings: off (`undefined`) while none of
 * {@link NEWSLETTER_SETTING_NAMES} is set. Never throws.
 */
export function parseNewsletterSettings(env: Env): FeatureGroup<NewsletterSettings> {
  return optionalFeature(
    env,
    NEWSLETTER_SETTING_NAMES,
    (env): SettingsGroup<NewsletterSettings> => parseGroup(schema, env),
  );
}

/** Why the newsletter is off, for `/health`. */
export const NEWSLETTER_OFF_REASON =
  "neither MAILCHIMP_API_KEY nor RESEND_NEWSLETTER_SEGMENT_ID is set";
