/**
 * What of Clerk's email may leave the webhook request: everything but the
 * message. The subject, the HTML and plain bodies and the template's
 * variables carry the one-time code or the magic link; Inngest keeps event
 * data for as long as its history, so none of them is forwarded.
 */
import { EMAIL_CONTENT_FIELDS } from "../clerk/email_schemas.ts";

/** A copy of `data` without the content fields; every other field is Clerk's, unchanged. */
export function redactEmail(data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy = { ...data };
  for (const field of EMAIL_CONTENT_FIELDS) delete copy[field];
  return copy;
}
