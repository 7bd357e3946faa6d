/**
 * Settings of the Clerk webhook route: the Svix signing secrets.
 */
import { z } from "zod";
import { type Env, isSvixSecret, parseGroup, secretList, type SettingsGroup } from "./_schema.ts";
import { refuseLocalOnly } from "./deployment.ts";

/** Settings of the Clerk webhook route. */
export interface WebhookSettings {
  /** Every accepted signing secret (several during a rotation). */
  readonly signingSecrets: readonly string[];
}

/** The variables of the group. */
export const WEBHOOK_SETTING_NAMES = ["CLERK_WEBHOOK_SIGNING_SECRET"] as const;

const schema = z.object({
  CLERK_WEBHOOK_SIGNING_SECRET: secretList(
    "CLERK_WEBHOOK_SIGNING_SECRET",
    "copy the signing secret (whsec_...) of the Clerk endpoint",
    isSvixSecret,
    "one or more whsec_<base64> secrets separated by spaces",
  ),
});

/** Parses `CLERK_WEBHOOK_SIGNING_SECRET`. Never throws. */
export function parseWebhookSettings(env: Env): SettingsGroup<WebhookSettings> {
  const group = parseGroup(schema, env, (value) => ({
    signingSecrets: value.CLERK_WEBHOOK_SIGNING_SECRET,
  }));
  return refuseLocalOnly(group, "CLERK_WEBHOOK_SIGNING_SECRET", (v) => v.signingSecrets, env);
}
