/**
 * `email.created`: one of Clerk's own emails (a verification code, a magic
 * link, an invitation, a password reset), already rendered. Its data is
 * @clerk/backend's `EmailJSON`.
 *
 * Like every Clerk schema here it is loose, and it checks only what the
 * webhook relies on: the message id, and whether Clerk delivers it itself.
 * The content fields are optional, so that the redacted copy forwarded to
 * Inngest (without `subject`, `body`, `body_plain` and `data`) passes too.
 */
import { z } from "zod";

/** The fields of an `EmailJSON` that hold the message itself: never stored, logged or forwarded. */
export const EMAIL_CONTENT_FIELDS = ["subject", "body", "body_plain", "data"] as const;

/** `data` of `email.created`: Clerk's Email object, as far as this project reads it. */
export const clerkEmailSchema = z.looseObject({
  /** `ema_…`. */
  id: z.string().min(1),
  /** The template, e.g. `verification_code`, `magic_link_sign_in`, `invitation`. */
  slug: z.string().nullable().optional(),
  /** Clerk sends it itself (true), or hands it to the app (false). */
  delivered_by_clerk: z.boolean(),
  to_email_address: z.string().optional(),
  email_address_id: z.string().nullable().optional(),
  /** Null for a sign-up code: the user does not exist yet. */
  user_id: z.string().nullable().optional(),
  from_email_name: z.string().optional(),
  status: z.string().optional(),
  subject: z.string().optional(),
  /** HTML. */
  body: z.string().optional(),
  body_plain: z.string().nullable().optional(),
  /** The template's variables, e.g. `otp_code`. */
  data: z.record(z.string(), z.unknown()).nullable().optional(),
});

/** Clerk's Email object, as far as this project reads it. */
export type ClerkEmail = z.infer<typeof clerkEmailSchema>;
