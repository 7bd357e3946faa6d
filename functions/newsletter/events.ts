/**
 * The newsletter's own event.
 */
import { eventType } from "inngest";
import { z } from "zod";

/**
 * `clerk-events/newsletter.unsubscribe.requested`: an opt-out of ours (the
 * one-click unsubscribe, the page) waits to reach the newsletter's
 * provider; `data.id` is the Clerk user id. The database keeps the opt-out
 * pending until the provider confirmed it, so this event is only a nudge.
 */
export const newsletterUnsubscribeRequested = eventType(
  "clerk-events/newsletter.unsubscribe.requested",
  { schema: z.looseObject({ id: z.string().min(1) }) },
);
