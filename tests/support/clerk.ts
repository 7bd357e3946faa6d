/**
 * Clerk webhook payloads for tests: fixtures shaped like real deliveries,
 * signed at test time with svix's own `Webhook.sign`.
 */
import { Webhook } from "svix";
import created from "../fixtures/clerk/user.created.json" with { type: "json" };
import updated from "../fixtures/clerk/user.updated.json" with { type: "json" };
import deleted from "../fixtures/clerk/user.deleted.json" with { type: "json" };

/** A fixed secret for tests: `whsec_` + base64 of 24 fixed bytes. */
export const TEST_SECRET = "whsec_" + btoa("clerk-events-test-secret");
/** A second secret, for rotation tests. */
export const OTHER_SECRET = "whsec_" + btoa("clerk-events-other-secret!");

const FIXTURES = {
  "user.created": created,
  "user.updated": updated,
  "user.deleted": deleted,
} as const;

/** The Clerk event types with fixtures. */
export type FixtureType = keyof typeof FIXTURES;

/** A Clerk envelope as the tests use it. */
export interface ClerkPayload {
  type: string;
  object: string;
  timestamp: number;
  data: Record<string, unknown>;
  [key: string]: unknown;
}

/** A fresh copy of a fixture, with `data` patched. */
export function clerkPayload(
  type: FixtureType,
  data: Record<string, unknown> = {},
): ClerkPayload {
  const copy = structuredClone(FIXTURES[type]) as ClerkPayload;
  copy.data = { ...copy.data, ...data };
  return copy;
}

/** A Clerk-looking user id that no other test uses. */
export function newUserId(): string {
  return "user_" + crypto.randomUUID().replaceAll("-", "").slice(0, 27);
}

/** A Svix-looking message id. */
export function newMessageId(): string {
  return "msg_" + crypto.randomUUID().replaceAll("-", "").slice(0, 27);
}

/** Options for {@link signedRequest}. */
export interface SignOptions {
  secret?: string;
  id?: string;
  /** When the message was signed. Default: now. */
  at?: Date;
  url?: string;
  /** Header prefix: Svix sends `svix-*`; Standard Webhooks is `webhook-*`. */
  prefix?: "svix" | "webhook";
}

/** Signs `body` and returns the three Svix headers. */
export function signHeaders(body: string, options: SignOptions = {}): Record<string, string> {
  const id = options.id ?? newMessageId();
  const at = options.at ?? new Date();
  const signature = new Webhook(options.secret ?? TEST_SECRET).sign(id, at, body);
  const prefix = options.prefix ?? "svix";
  return {
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)),
    [`${prefix}-signature`]: signature,
  };
}

/** A webhook request as Svix would send it, signed over exactly `body`. */
export function signedRequest(body: string | ClerkPayload, options: SignOptions = {}): Request {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new Request(options.url ?? "http://localhost/clerk-events/webhook", {
    method: "POST",
    headers: { "content-type": "application/json", ...signHeaders(text, options) },
    body: text,
  });
}
