/**
 * Clerk's own emails for local tools (`deno task webhook:send --type
 * email.created`) and tests: an `email.created` for a verification code
 * that Clerk hands to the app (its template's "Delivered by Clerk" is off),
 * shaped like @clerk/backend's `EmailJSON` and the example of Clerk's
 * webhook catalog: the rendered subject and bodies, and the template's
 * variables in `data`.
 *
 * Nothing here reads the environment or the network.
 */
import { clerkId } from "./clerk_ids.ts";

/** The email event types with a built-in payload. */
export const EMAIL_EVENT_TYPES = ["email.created"] as const;

/** An email event type with a built-in payload. */
export type EmailEventType = typeof EMAIL_EVENT_TYPES[number];

/** True when `type` is an email event type with a built-in payload. */
export function isEmailEventType(type: string): type is EmailEventType {
  return (EMAIL_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * The data of a verification code's `email.created`, sent at `at`. With
 * `userId` null, as for a sign-up code, the user does not exist yet. The
 * code is random, and so is the address (on `example.com`).
 */
export function verificationCodeEmail(userId: string | null, at: number): Record<string, unknown> {
  const code = String(crypto.getRandomValues(new Uint32Array(1))[0] % 1_000_000).padStart(6, "0");
  const tag = clerkId("").slice(-8).toLowerCase();
  const requestedAt = new Date(at).toUTCString().replace(/:\d\d GMT$/, " UTC");
  return {
    body: `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${code} is your ` +
      `verification code</title></head><body style="background:#f5f5f5;margin:0;padding:24px">` +
      `<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td ` +
      `align="center"><table role="presentation" width="416" style="background:#ffffff;` +
      `border-radius:8px;padding:32px"><tr><td><h1 style="font-size:20px">Verification code</h1>` +
      `<p>Enter the following verification code when prompted:</p><p style="font-size:32px;` +
      `letter-spacing:6px;font-weight:700">${code}</p><p>To protect your account, do not share ` +
      `this code.</p><p style="color:#6b7280;font-size:12px">Requested from Chrome, Linux at ` +
      `${requestedAt}. If you did not request this code, you can ignore this email.</p>` +
      `</td></tr></table></td></tr></table></body></html>`,
    body_plain: `Verification code\n\nEnter the following verification code when prompted: ` +
      `${code}\n\nTo protect your account, do not share this code.\n\nRequested from ` +
      `Chrome, Linux at ${requestedAt}. If you did not request this code, you can ignore this email.`,
    data: {
      app: {
        domain_name: "acme.example.com",
        logo_image_url: "https://img.clerk.com/eyJ0eXBlIjoicHJveHkifQ",
        logo_url: null,
        name: "Acme",
        url: "https://acme.example.com",
      },
      otp_code: code,
      requested_at: requestedAt,
      requested_by: "Chrome, Linux",
      requested_from: "192.0.2.10, Berlin, DE",
      theme: { button_text_color: "#ffffff", primary_color: "#6c47ff", show_clerk_branding: true },
    },
    delivered_by_clerk: false,
    email_address_id: clerkId("idn_"),
    from_email_name: "notifications",
    id: clerkId("ema_"),
    object: "email",
    slug: "verification_code",
    status: "queued",
    subject: `${code} is your verification code`,
    to_email_address: `ada.${tag}@example.com`,
    user_id: userId,
  };
}
