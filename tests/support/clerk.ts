/**
 * Clerk webhook payloads for tests: fixtures shaped like real deliveries,
 * signed at test time with svix's own `Webhook.sign`.
 */
import { newMessageId, signDelivery } from "../../scripts/clerk_payloads.ts";
import created from "../fixtures/clerk/user.created.json" with { type: "json" };
import updated from "../fixtures/clerk/user.updated.json" with { type: "json" };
import deleted from "../fixtures/clerk/user.deleted.json" with { type: "json" };
import orgCreated from "../fixtures/clerk/organization.created.json" with { type: "json" };
import orgUpdated from "../fixtures/clerk/organization.updated.json" with { type: "json" };
import orgDeleted from "../fixtures/clerk/organization.deleted.json" with { type: "json" };
import membershipCreated from "../fixtures/clerk/organizationMembership.created.json" with {
  type: "json",
};
import membershipUpdated from "../fixtures/clerk/organizationMembership.updated.json" with {
  type: "json",
};
import membershipDeleted from "../fixtures/clerk/organizationMembership.deleted.json" with {
  type: "json",
};
import emailCreated from "../fixtures/clerk/email.created.json" with { type: "json" };

/** A fixed secret for tests: `whsec_` + base64 of 24 fixed bytes. */
export const TEST_SECRET = "whsec_" + btoa("clerk-events-test-secret");
/** A second secret, for rotation tests. */
export const OTHER_SECRET = "whsec_" + btoa("clerk-events-other-secret!");

const FIXTURES = {
  "user.created": created,
  "user.updated": updated,
  "user.deleted": deleted,
  "organization.created": orgCreated,
  "organization.updated": orgUpdated,
  "organization.deleted": orgDeleted,
  "organizationMembership.created": membershipCreated,
  "organizationMembership.updated": membershipUpdated,
  "organizationMembership.deleted": membershipDeleted,
  "email.created": emailCreated,
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

export { newMessageId, newUserId } from "../../scripts/clerk_payloads.ts";

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

/** Signs `body` with the sender `deno task webhook:send` uses, and returns the headers. */
export function signHeaders(body: string, options: SignOptions = {}): Record<string, string> {
  const signed = signDelivery(body, options.secret ?? TEST_SECRET, {
    id: options.id ?? newMessageId(),
    at: options.at,
  });
  if ((options.prefix ?? "svix") === "svix") return { ...signed };
  return Object.fromEntries(
    Object.entries(signed).map(([name, value]) => [name.replace(/^svix-/, "webhook-"), value]),
  );
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
