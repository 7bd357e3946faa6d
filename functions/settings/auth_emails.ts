/**
 * Settings of Clerk's own emails (`email.created`), an optional feature: off
 * while `AUTH_EMAIL_FROM` is unset, and that is no problem. Set, the emails
 * go out through Resend, so they need `RESEND_API_KEY` (or `EMAIL_DRY_RUN`),
 * the same variables the onboarding emails read, but nothing else of the
 * email group: the sign-in codes must not wait for the copy's settings.
 */
import { z } from "zod";
import { type Env, flag, optionalUrl, parseGroup, required } from "./_schema.ts";
import { SENDER } from "./email.ts";
import { type FeatureGroup, optionalFeature } from "./features.ts";

/** The settings of Clerk's own emails, when the feature is on. */
export interface AuthEmailSettings {
  /** The sender, an address on the domain verified in Resend, maybe `Name <address>`. */
  readonly from: string;
  /** Absent in dry-run mode. */
  readonly resendApiKey?: string;
  readonly resendBaseUrl?: string;
  /** `EMAIL_DRY_RUN`: record every email as `dry_run` without sending it. */
  readonly dryRun: boolean;
}

/** The variables of this group, in the order `.env.example` lists them. */
export const AUTH_EMAIL_SETTING_NAMES = ["AUTH_EMAIL_FROM"] as const;

/** Why the feature is off, as `/health` says it. */
export const AUTH_EMAILS_OFF_REASON = "AUTH_EMAIL_FROM is not set";

const schema = z.object({
  AUTH_EMAIL_FROM: required(
    'AUTH_EMAIL_FROM is missing: the sender of Clerk\'s emails, as an address or "Name <address>"',
  ).regex(SENDER, { error: 'AUTH_EMAIL_FROM must be an address or "Name <address>"' }),
  RESEND_API_KEY: z.string().optional(),
  RESEND_BASE_URL: optionalUrl("RESEND_BASE_URL"),
  EMAIL_DRY_RUN: flag("EMAIL_DRY_RUN", false),
}).refine((value) => value.RESEND_API_KEY || value.EMAIL_DRY_RUN, {
  error: "RESEND_API_KEY is missing: AUTH_EMAIL_FROM sends Clerk's emails through Resend; set " +
    "it, or set EMAIL_DRY_RUN=true to record them without sending",
  when: (payload) => payload.value !== undefined,
});

/** Parses the group: off while `AUTH_EMAIL_FROM` is unset. Never throws. */
export function parseAuthEmailSettings(env: Env): FeatureGroup<AuthEmailSettings> {
  return optionalFeature(
    env,
    AUTH_EMAIL_SETTING_NAMES,
    (all) =>
      parseGroup(schema, all, (value) => ({
        from: value.AUTH_EMAIL_FROM,
        resendApiKey: value.RESEND_API_KEY,
        resendBaseUrl: value.RESEND_BASE_URL,
        dryRun: value.EMAIL_DRY_RUN,
      })),
  );
}
