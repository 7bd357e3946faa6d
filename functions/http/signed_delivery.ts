/**
 * What every Svix-signed webhook route does before it looks at the payload,
 * in this order: only POST (405), limit the size before reading anything
 * more (413), read the raw text once, and verify that exact text (401).
 * Then the body may be parsed; a body that verified but is not what the
 * sender should send is a 400.
 *
 * The Clerk webhook and Resend's webhook both go through here, so they
 * answer the same request the same way.
 */
import {
  type SvixHeaders,
  svixHeaders,
  type Verifier,
  WebhookVerificationError,
} from "../svix/verify.ts";
import type { Logger } from "../util/log.ts";
import { HttpError } from "./http_error.ts";
import { readBodyText } from "./read_body.ts";

/** Default body limit: 256 KiB. Clerk and Resend payloads are a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** Options for {@link receiveSignedDelivery}. */
export interface SignedDeliveryOptions {
  readonly verify: Verifier;
  readonly logger: Logger;
  /** Largest accepted body. Default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
  /** Names the route in log lines, e.g. `Webhook` or `Resend webhook`. */
  readonly label: string;
}

/** A delivery whose raw body carries a valid signature. */
export interface SignedDelivery {
  /** The raw body, exactly as signed. */
  readonly body: string;
  readonly headers: SvixHeaders;
}

/**
 * Checks the method, reads the body within the limit and verifies it.
 * Throws HttpError 405, 413 or 401; anything else it throws is unexpected.
 */
export async function receiveSignedDelivery(
  req: Request,
  options: SignedDeliveryOptions,
): Promise<SignedDelivery> {
  if (req.method !== "POST") {
    await req.body?.cancel();
    throw new HttpError(405, "method_not_allowed", "Use POST", { headers: { allow: "POST" } });
  }
  const body = await readBodyText(req, options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  try {
    const headers = svixHeaders(req.headers);
    options.verify(body, headers);
    return { body, headers };
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    options.logger.warn(`${options.label} rejected: signature`, {
      svix_id: req.headers.get("svix-id") ?? req.headers.get("webhook-id") ?? undefined,
      reason: error.message,
    });
    throw new HttpError(401, "invalid_signature", error.message);
  }
}

/**
 * The one answer to a verified body that is not what the sender should
 * send: logged with the message id, then HttpError 400.
 */
export function invalidPayload(
  logger: Logger,
  message: string,
  fields: { label: string; svixId: string; what: string },
): never {
  logger.warn(`${fields.label} rejected: ${fields.what}`, {
    svix_id: fields.svixId,
    reason: message,
  });
  throw new HttpError(400, "invalid_payload", message);
}

/** Parses a verified body as JSON, or throws {@link invalidPayload}'s 400. */
export function parseJsonBody(
  body: string,
  reject: (message: string) => never,
): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return reject("Body is not valid JSON");
  }
}
