/**
 * Settings of email compliance: one-click unsubscribe links, and the Resend
 * webhook that reports bounces and complaints.
 *
 * They form two groups that fail independently of each other and of every
 * other group: without them only `/unsubscribe`, `/resend-webhook` and the
 * trial offer (which must not go out without an unsubscribe link) stop; the
 * Clerk webhook never depends on them.
 */
import { z } from "zod";
import {
  decodedLength,
  type Env,
  isSvixSecret,
  parseGroup,
  secretList,
  type SettingsGroup,
} from "./_schema.ts";
import { refuseLocalOnly } from "./deployment.ts";

/** Settings of the unsubscribe links and route. */
export interface UnsubscribeSettings {
  /** The function's public URL, e.g. `https://<ref>.supabase.co/functions/v1/clerk-events`. */
  readonly publicFunctionUrl: string;
  /** The first signs new tokens; every one verifies (several during a rotation). */
  readonly secrets: readonly string[];
}

/** Settings of `POST /clerk-events/resend-webhook`. */
export interface ResendWebhookSettings {
  /** Every accepted Svix signing secret (several during a rotation). */
  readonly signingSecrets: readonly string[];
}

/** The variables of both groups, in the order `.env.example` lists them. */
export const EMAIL_COMPLIANCE_SETTING_NAMES = [
  "PUBLIC_FUNCTION_URL",
  "UNSUBSCRIBE_SECRET",
  "RESEND_WEBHOOK_SECRET",
] as const;

/** Fewest bytes an unsubscribe secret must decode to. */
export const MIN_UNSUBSCRIBE_SECRET_BYTES = 32;

const publicUrl = z.string({
  error: "PUBLIC_FUNCTION_URL is missing: the function's public URL, the base of unsubscribe links",
}).refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.search && !url.hash;
  } catch {
    return false;
  }
}, {
  error: "PUBLIC_FUNCTION_URL must be an http(s) URL without query, " +
    "e.g. https://<project-ref>.supabase.co/functions/v1/clerk-events",
});

const unsubscribeSchema = z.object({
  PUBLIC_FUNCTION_URL: publicUrl,
  UNSUBSCRIBE_SECRET: secretList(
    "UNSUBSCRIBE_SECRET",
    "generate one with `openssl rand -base64 32`",
    (secret) => decodedLength(secret) >= MIN_UNSUBSCRIBE_SECRET_BYTES,
    `one or more base64 secrets of at least ${MIN_UNSUBSCRIBE_SECRET_BYTES} random bytes, ` +
      "separated by spaces (openssl rand -base64 32)",
  ),
});

const resendWebhookSchema = z.object({
  RESEND_WEBHOOK_SECRET: secretList(
    "RESEND_WEBHOOK_SECRET",
    "copy the signing secret (whsec_...) of the Resend webhook",
    isSvixSecret,
    "one or more whsec_<base64> secrets separated by spaces",
  ),
});

/** Parses `PUBLIC_FUNCTION_URL` and `UNSUBSCRIBE_SECRET`. Never throws. */
export function parseUnsubscribeSettings(env: Env): SettingsGroup<UnsubscribeSettings> {
  const group = parseGroup(unsubscribeSchema, env, (value) => ({
    publicFunctionUrl: value.PUBLIC_FUNCTION_URL.replace(/\/+$/, ""),
    secrets: value.UNSUBSCRIBE_SECRET,
  }));
  return refuseLocalOnly(group, "UNSUBSCRIBE_SECRET", (value) => value.secrets, env);
}

/** Parses `RESEND_WEBHOOK_SECRET`. Never throws. */
export function parseResendWebhookSettings(env: Env): SettingsGroup<ResendWebhookSettings> {
  const group = parseGroup(resendWebhookSchema, env, (value) => ({
    signingSecrets: value.RESEND_WEBHOOK_SECRET,
  }));
  return refuseLocalOnly(group, "RESEND_WEBHOOK_SECRET", (value) => value.signingSecrets, env);
}
