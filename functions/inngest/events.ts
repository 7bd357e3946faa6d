/**
 * The Inngest events this app sends and receives, declared once.
 *
 * The webhook validates outgoing events against these schemas and the
 * workflows trigger on them, so both sides share one definition.
 */
import { eventType } from "inngest";
import { z } from "zod";
import { clerkDeletedUserSchema, clerkUserSchema } from "../clerk/schemas.ts";
import {
  clerkDeletedOrganizationSchema,
  clerkOrganizationMembershipSchema,
  clerkOrganizationSchema,
} from "../clerk/organization_schemas.ts";

/** Prefix of every event name forwarded from Clerk. */
export const CLERK_EVENT_PREFIX = "clerk/";

/** `clerk/user.created`: data is Clerk's User object, unchanged. */
export const userCreated = eventType("clerk/user.created", { schema: clerkUserSchema });

/** `clerk/user.updated`: data is Clerk's User object, unchanged. */
export const userUpdated = eventType("clerk/user.updated", { schema: clerkUserSchema });

/** `clerk/user.deleted`: data is Clerk's DeletedObject, unchanged. */
export const userDeleted = eventType("clerk/user.deleted", { schema: clerkDeletedUserSchema });

/** `clerk/organization.created`: data is Clerk's Organization object, unchanged. */
export const organizationCreated = eventType("clerk/organization.created", {
  schema: clerkOrganizationSchema,
});

/** `clerk/organization.updated`: data is Clerk's Organization object, unchanged. */
export const organizationUpdated = eventType("clerk/organization.updated", {
  schema: clerkOrganizationSchema,
});

/** `clerk/organization.deleted`: data is `{object, id, slug, deleted}`, with no `updated_at`. */
export const organizationDeleted = eventType("clerk/organization.deleted", {
  schema: clerkDeletedOrganizationSchema,
});

/** `clerk/organizationMembership.created`: data is Clerk's OrganizationMembership. */
export const organizationMembershipCreated = eventType("clerk/organizationMembership.created", {
  schema: clerkOrganizationMembershipSchema,
});

/** `clerk/organizationMembership.updated`: data is Clerk's OrganizationMembership. */
export const organizationMembershipUpdated = eventType("clerk/organizationMembership.updated", {
  schema: clerkOrganizationMembershipSchema,
});

/** `clerk/organizationMembership.deleted`: data is the whole deleted OrganizationMembership. */
export const organizationMembershipDeleted = eventType("clerk/organizationMembership.deleted", {
  schema: clerkOrganizationMembershipSchema,
});

/** The events the workflows consume, whose data the webhook validates. */
export const consumedEvents = [
  userCreated,
  userUpdated,
  userDeleted,
  organizationCreated,
  organizationUpdated,
  organizationDeleted,
  organizationMembershipCreated,
  organizationMembershipUpdated,
  organizationMembershipDeleted,
] as const;

/**
 * The data schema of a consumed event, or `undefined` for Clerk event types
 * that no workflow consumes (those are forwarded with any object as data).
 */
export function dataSchemaFor(eventName: string): z.ZodType | undefined {
  return consumedEvents.find((event) => event.name === eventName)?.schema;
}

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
