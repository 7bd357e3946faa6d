/**
 * RFC 8058 one-click unsubscribe for marketing email: the link, and the two
 * headers that let mailbox providers show their own "Unsubscribe" button.
 */
import type { UnsubscribeSettings } from "../settings/email_compliance.ts";
import { lazy } from "../util/lazy.ts";

/** The headers of a marketing email that unsubscribes with one click. */
export function listUnsubscribeHeaders(unsubscribeUrl: string): Record<string, string> {
  return {
    "List-Unsubscribe": `<${unsubscribeUrl}>`,
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
  };
}

/** Builds the unsubscribe link of a user. */
export type UnsubscribeLinks = (userId: string) => Promise<string>;

/**
 * Creates the link builder: `<PUBLIC_FUNCTION_URL>/unsubscribe?token=…`,
 * with a token signed by the first `UNSUBSCRIBE_SECRET`.
 */
export function createUnsubscribeLinks(settings: UnsubscribeSettings): UnsubscribeLinks {
  // Loaded with the first link: the webhook path never signs one.
  const tokens = lazy(async () => {
    const { createUnsubscribeTokens } = await import("./unsubscribe_token.ts");
    return createUnsubscribeTokens(settings.secrets);
  });
  return async (userId) => {
    const url = new URL(`${settings.publicFunctionUrl}/unsubscribe`);
    url.searchParams.set("token", await (await tokens()).sign(userId));
    return url.href;
  };
}
