/**
 * `/clerk-events/unsubscribe?token=…`: RFC 8058 one-click unsubscribe.
 *
 * - `POST` with the body `List-Unsubscribe=One-Click` (form-encoded or
 *   multipart), as mail clients send it, records the opt-out (`one_click`)
 *   and answers 200: no redirect, no cookie, no other authentication than
 *   the token. The page's own button posts `unsubscribe=page` (`page`).
 *   Repeating either changes nothing. Either also leaves the newsletter:
 *   the database records that opt-out too, and `afterOptOut` nudges the
 *   workflow that tells the provider.
 * - `GET` only shows a page whose button posts the form: link scanners open
 *   every link in an email, so a GET must never unsubscribe.
 * - A missing or invalid token gets a 400 page, and nothing changes.
 */
import { errorFields, type Logger } from "../util/log.ts";
import type { EmailPreferencesStore, OptOutSource } from "../email/preferences_store.ts";
import type { UnsubscribeTokens } from "../email/unsubscribe_token.ts";
import { readBodyText } from "../http/read_body.ts";
import { confirmForm, unsubscribePage } from "./unsubscribe_page.ts";

/** Options for {@link createUnsubscribeHandler}. */
export interface UnsubscribeOptions {
  readonly tokens: UnsubscribeTokens;
  /** Resolved only for a valid POST. */
  readonly preferences: () => Promise<EmailPreferencesStore>;
  readonly logger: Logger;
  /** Names the sender on the page, when the email settings give it. */
  readonly appName?: string;
  /**
   * Called after an opt-out was recorded, to tell the newsletter's provider
   * soon (the opt-out, recorded in the same transaction, waits in the
   * database until the provider confirmed it). Never throws.
   */
  readonly afterOptOut?: (userId: string) => Promise<void>;
}

/** Largest form body read: the one-click body is 26 bytes. */
const MAX_FORM_BYTES = 8 * 1024;

/** Creates the handler. */
export function createUnsubscribeHandler(options: UnsubscribeOptions) {
  const { logger } = options;
  return async (req: Request): Promise<Response> => {
    const isPost = req.method === "POST";
    if (!isPost && req.method !== "GET" && req.method !== "HEAD") {
      await req.body?.cancel();
      return withAllow(unsubscribePage(405, "Method not allowed", "<p>Use GET or POST.</p>"));
    }
    const token = new URL(req.url).searchParams.get("token") ?? "";
    const userId = token ? await options.tokens.verify(token) : undefined;
    if (!userId) {
      await req.body?.cancel();
      logger.warn("Unsubscribe rejected: invalid token", { method: req.method });
      return invalidLink();
    }
    if (!isPost) {
      return unsubscribePage(200, "Unsubscribe", confirmForm(token, options.appName));
    }

    const source = await sourceOf(req);
    if (!source) {
      logger.warn("Unsubscribe rejected: no List-Unsubscribe=One-Click", { user_id: userId });
      return unsubscribePage(
        400,
        "Nothing changed",
        "<p>This request did not ask to unsubscribe (List-Unsubscribe=One-Click is missing).</p>",
      );
    }
    let outcome;
    try {
      outcome = await (await options.preferences()).optOut(userId, source);
    } catch (error) {
      logger.error("Unsubscribe not recorded", { user_id: userId, ...errorFields(error) });
      return unsubscribePage(
        503,
        "Please try again",
        "<p>We could not record your choice just now. Please try again in a few minutes.</p>",
      );
    }
    logger.info("Unsubscribed from marketing email", { user_id: userId, source, outcome });
    await options.afterOptOut?.(userId);
    return unsubscribePage(
      200,
      "You are unsubscribed",
      "<p>You will not receive marketing emails from us any more. Emails about your account still arrive.</p>",
    );
  };
}

/** `one_click` for RFC 8058's body, `page` for the page's form, else none. */
async function sourceOf(req: Request): Promise<OptOutSource | undefined> {
  let form: { get(name: string): unknown };
  try {
    const text = await readBodyText(req, MAX_FORM_BYTES);
    const type = req.headers.get("content-type") ?? "";
    form = type.toLowerCase().startsWith("multipart/form-data")
      ? await new Response(text, { headers: { "content-type": type } }).formData()
      : new URLSearchParams(text);
  } catch {
    return undefined;
  }
  // Some clients end the body with a line break.
  const field = (name: string) => String(form.get(name) ?? "").trim();
  if (field("List-Unsubscribe") === "One-Click") return "one_click";
  if (field("unsubscribe") === "page") return "page";
  return undefined;
}

function invalidLink(): Response {
  return unsubscribePage(
    400,
    "This unsubscribe link is not valid",
    "<p>The link is incomplete or was changed. Nothing was changed. " +
      "Please use the unsubscribe link from the email itself.</p>",
  );
}

function withAllow(res: Response): Response {
  res.headers.set("allow", "GET, POST");
  return res;
}
