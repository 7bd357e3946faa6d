/**
 * What counts as consent to the newsletter on a Clerk user object.
 */
import { z } from "zod";

const consentSchema = z.looseObject({
  unsafe_metadata: z.looseObject({ newsletter: z.unknown().optional() }).nullable().optional(),
});

/** Whether the Clerk user consents: `unsafe_metadata.newsletter === true`, nothing else. */
export function hasConsent(data: unknown): boolean {
  const parsed = consentSchema.safeParse(data);
  return parsed.success && parsed.data.unsafe_metadata?.newsletter === true;
}
