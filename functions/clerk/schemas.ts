/**
 * Zod schemas for the Clerk webhook payloads this project reads.
 *
 * Every object schema is loose: real Clerk payloads carry fields the docs do
 * not list, and new ones appear without notice. Only the fields the workflows
 * use are checked, and unknown fields pass through unchanged, so the Inngest
 * event data stays exactly Clerk's `data` object.
 */
import { z } from "zod";

/**
 * Clerk event types are `resource.action`: `user.created`, and camelCase
 * resources such as `organizationMembership.created` or `waitlistEntry.created`.
 */
export const CLERK_EVENT_TYPE = /^[a-z][a-zA-Z_]*(\.[a-z][a-zA-Z_]*)+$/;

/** The envelope of every Clerk webhook. */
export const clerkEnvelopeSchema = z.looseObject({
  type: z.string().regex(CLERK_EVENT_TYPE, "must look like resource.action"),
  object: z.literal("event"),
  // Only checked to be an object: a z.record would walk and copy every
  // field, and the data schema of the event type walks them again.
  data: z.custom<Record<string, unknown>>(
    (value) => typeof value === "object" && value !== null && !Array.isArray(value),
    { message: "expected an object" },
  ),
  timestamp: z.number().int().positive(),
  instance_id: z.string().optional(),
});

/** A Clerk webhook envelope. */
export type ClerkEnvelope = z.infer<typeof clerkEnvelopeSchema>;

const clerkEmailAddressSchema = z.looseObject({
  id: z.string().min(1),
  email_address: z.string().min(1),
});

/** `data` of `user.created` and `user.updated`: a Clerk User object. */
export const clerkUserSchema = z.looseObject({
  id: z.string().min(1),
  email_addresses: z.array(clerkEmailAddressSchema),
  primary_email_address_id: z.string().nullable(),
  first_name: z.string().nullable(),
  last_name: z.string().nullable(),
  username: z.string().nullable().optional(),
  image_url: z.string().nullable().optional(),
  created_at: z.number().int().nonnegative(),
  updated_at: z.number().int().nonnegative(),
});

/** A Clerk User object, as far as this project reads it. */
export type ClerkUser = z.infer<typeof clerkUserSchema>;

/** `data` of `user.deleted`: Clerk's DeletedObject. */
export const clerkDeletedUserSchema = z.looseObject({
  id: z.string().min(1),
  deleted: z.literal(true),
});

/** A Clerk DeletedObject for a user. */
export type ClerkDeletedUser = z.infer<typeof clerkDeletedUserSchema>;
