/**
 * The reconcile's own event.
 */
import { eventType } from "inngest";
import { z } from "zod";

/** Data of {@link reconcileRequested}. */
export const reconcileRequestSchema = z.looseObject({
  /** Count what would change without writing to public.users. */
  dryRun: z.boolean().optional(),
});

/**
 * `clerk-events/reconcile.requested`: asks for a run of
 * `reconcile-users-with-clerk` now (`deno task reconcile` sends it).
 */
export const reconcileRequested = eventType("clerk-events/reconcile.requested", {
  schema: reconcileRequestSchema,
});
