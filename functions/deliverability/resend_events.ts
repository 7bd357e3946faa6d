/**
 * Resend's webhook payloads, as far as delivery bookkeeping needs them.
 *
 * Every payload is `{ type, created_at, data }`; for events about an email
 * sent through the API, `data.email_id` is the id Resend answered the send
 * with, and `email.bounced` adds `data.bounce: { type, subType, message }`
 * where `type` is `Permanent`, `Transient` or `Undetermined`. Unknown
 * fields are allowed everywhere: Resend adds fields without notice.
 */
import { z } from "zod";
import type { DeliveryEvent } from "../email/preferences_store.ts";

/** The email event types Resend documents; any other `email.*` is kept too. */
export const RESEND_EMAIL_EVENTS = [
  "email.sent",
  "email.scheduled",
  "email.delivered",
  "email.delivery_delayed",
  "email.bounced",
  "email.complained",
  "email.opened",
  "email.clicked",
  "email.failed",
  "email.suppressed",
] as const;

/** Email events that are not about an email we sent (inbound mail). */
const NOT_SENT_EMAIL = new Set(["email.received"]);

const timestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), {
  error: "must be an ISO 8601 timestamp",
});

const envelopeSchema = z.object({
  type: z.string().min(1),
  created_at: timestamp,
  data: z.record(z.string(), z.unknown()),
});

const emailDataSchema = z.object({
  email_id: z.string().min(1),
  bounce: z.object({ type: z.string().optional() }).optional(),
});

/** A payload that is not a Resend event, with the reason. */
export class InvalidResendEvent extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidResendEvent";
  }
}

/** `contact.updated` with `unsubscribed: true`: the contact left the newsletter. */
export interface ContactOptOut {
  /** The contact's address, as Resend knows it. */
  readonly contactOptOut: string;
}

const contactDataSchema = z.object({
  email: z.string().min(1),
  unsubscribed: z.boolean(),
});

/**
 * Reads a verified payload. Returns the delivery event it reports, a
 * contact's opt-out, or `{ ignored: type }` for events that are neither
 * (other contact events, domains, inbound mail). Throws
 * {@link InvalidResendEvent}.
 */
export function toDeliveryEvent(
  payload: unknown,
  summary: (error: z.ZodError) => string,
): DeliveryEvent | ContactOptOut | { readonly ignored: string } {
  const envelope = envelopeSchema.safeParse(payload);
  if (!envelope.success) {
    throw new InvalidResendEvent(`Body is not a Resend event: ${summary(envelope.error)}`);
  }
  const { type, created_at: at, data } = envelope.data;
  if (type === "contact.updated") {
    const contact = contactDataSchema.safeParse(data);
    if (!contact.success) {
      throw new InvalidResendEvent(`Data of ${type} is not valid: ${summary(contact.error)}`);
    }
    return contact.data.unsubscribed ? { contactOptOut: contact.data.email } : { ignored: type };
  }
  const event = /^email\.([a-z_]+)$/.exec(type)?.[1];
  if (!event || NOT_SENT_EMAIL.has(type)) return { ignored: type };
  const email = emailDataSchema.safeParse(data);
  if (!email.success) {
    throw new InvalidResendEvent(`Data of ${type} is not valid: ${summary(email.error)}`);
  }
  return {
    resendId: email.data.email_id,
    event,
    at,
    optOut: type === "email.complained"
      ? "complaint"
      : type === "email.bounced" && isPermanent(email.data.bounce?.type)
      ? "bounce"
      : undefined,
  };
}

/**
 * Resend sends `email.bounced` when the recipient's server rejected the
 * email for good, and says so in `bounce.type`; only an explicit other type
 * (`Transient`, `Undetermined`) counts as not permanent.
 */
function isPermanent(bounceType: string | undefined): boolean {
  return bounceType === undefined || bounceType.toLowerCase() === "permanent";
}
