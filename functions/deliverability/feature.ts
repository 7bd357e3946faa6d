/**
 * Deliverability: what keeps the marketing email compliant and the sender's
 * reputation clean.
 *
 * - `/unsubscribe`: RFC 8058 one-click unsubscribe (POST), and a page that
 *   confirms it (GET never changes anything).
 * - `/resend-webhook`: Resend's delivery events, signed with Svix, update
 *   `public.email_deliveries`; a complaint or a permanent bounce opts the
 *   user out of marketing email.
 */
import { type Feature, type FeatureContext, stateOf } from "../feature/feature.ts";
import { groupValue } from "../settings.ts";

/** What deliverability takes from the other features. */
export interface DeliverabilityPorts {
  /**
   * Told of every opt-out of ours, after it is recorded (the newsletter
   * unsubscribes at its provider too); must not throw.
   */
  readonly afterOptOut?: (userId: string) => Promise<void>;
  /** Largest accepted body of a Resend event. Default 256 KiB. */
  readonly maxBodyBytes?: number;
}

/** Builds the deliverability feature. */
export function deliverabilityFeature(
  context: FeatureContext,
  ports: DeliverabilityPorts = {},
): Feature {
  const { settings, services, logger } = context;
  return {
    name: "deliverability",
    state: stateOf(settings, ["unsubscribe", "resendWebhook", "database"]),
    routes: [{
      path: "unsubscribe",
      methods: ["GET", "POST"],
      summary: "RFC 8058 one-click unsubscribe (?token=…); GET only shows a page",
      needs: ["unsubscribe", "database"],
      load: async () => {
        const [{ createUnsubscribeHandler }, { createUnsubscribeTokens }] = await Promise.all([
          import("./unsubscribe.ts"),
          import("../email/unsubscribe_token.ts"),
        ]);
        return createUnsubscribeHandler({
          tokens: createUnsubscribeTokens(groupValue(settings.unsubscribe).secrets),
          preferences: services.preferences,
          logger,
          appName: settings.email.ok ? settings.email.value.appName : undefined,
          afterOptOut: ports.afterOptOut,
        });
      },
    }, {
      path: "resend-webhook",
      methods: ["POST"],
      summary: "Resend's delivery events, signed with Svix: bounces and complaints stop marketing",
      needs: ["resendWebhook", "database"],
      load: async () => {
        const [{ createResendWebhookHandler }, { createVerifier }] = await Promise.all([
          import("./resend_webhook.ts"),
          import("../svix/verify.ts"),
        ]);
        return createResendWebhookHandler({
          verify: createVerifier(groupValue(settings.resendWebhook).signingSecrets),
          preferences: services.preferences,
          logger,
          maxBodyBytes: ports.maxBodyBytes,
        });
      },
    }],
  };
}
