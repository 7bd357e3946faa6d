/**
 * `clerk/email.created`, declared once: the webhook validates its data
 * while the feature is on. What reaches Inngest is redacted (`redact.ts`):
 * a function triggered by it sees Clerk's fields without the message.
 */
import { eventType } from "inngest";
import { clerkEmailSchema } from "../clerk/email_schemas.ts";

/** `clerk/email.created`: Clerk's Email object without `subject`, `body`, `body_plain` and `data`. */
export const emailCreated = eventType("clerk/email.created", { schema: clerkEmailSchema });
