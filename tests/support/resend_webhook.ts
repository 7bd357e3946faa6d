/**
 * Resend webhook deliveries for tests: payloads shaped like Resend's own
 * (`tests/fixtures/resend/events.json`, from Resend's documented examples),
 * signed at test time with svix's `Webhook.sign`, as Resend's Svix does.
 */
import { newMessageId, signDelivery } from "../../scripts/clerk_payloads.ts";
import events from "../fixtures/resend/events.json" with { type: "json" };
import { TEST_RESEND_WEBHOOK_SECRET } from "./env.ts";

/** The event types with a fixture. */
export type ResendEventType = keyof typeof events;

/** A Resend webhook payload. */
export interface ResendPayload {
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

/** A fresh copy of a fixture about email `emailId`, happening at `at`. */
export function resendEvent(
  type: ResendEventType,
  emailId: string,
  at: Date,
  data: Record<string, unknown> = {},
): ResendPayload {
  const copy = structuredClone(events[type]) as ResendPayload;
  copy.created_at = at.toISOString();
  copy.data = { ...copy.data, email_id: emailId, ...data };
  return copy;
}

/** Options for {@link signedResendRequest}. */
export interface ResendSignOptions {
  secret?: string;
  id?: string;
  /** When the delivery is signed. Default: now. */
  at?: Date;
  /** Leave the Svix headers off. */
  unsigned?: boolean;
}

/** A `POST /clerk-events/resend-webhook` as Resend's Svix would send it. */
export function signedResendRequest(
  payload: ResendPayload | string,
  options: ResendSignOptions = {},
): Request {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const signed = options.unsigned ? {} : signDelivery(
    body,
    options.secret ?? TEST_RESEND_WEBHOOK_SECRET,
    { id: options.id ?? newMessageId(), at: options.at },
  );
  return new Request("http://localhost/clerk-events/resend-webhook", {
    method: "POST",
    headers: { "content-type": "application/json", ...signed },
    body,
  });
}
