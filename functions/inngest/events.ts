/**
 * The Inngest events that several features share, declared once: the
 * webhook validates the data of Clerk's against their schemas and the
 * workflows trigger on them, so both sides share one definition. A
 * feature's own events are declared in its folder (`events.ts`) and listed
 * in its `events`, which the webhook validates too.
 */
import { eventType } from "inngest";
import { clerkDeletedUserSchema, clerkUserSchema } from "../clerk/schemas.ts";

/** Prefix of every event name forwarded from Clerk. */
export const CLERK_EVENT_PREFIX = "clerk/";

/** `clerk/user.created`: data is Clerk's User object, unchanged. */
export const userCreated = eventType("clerk/user.created", { schema: clerkUserSchema });

/** `clerk/user.updated`: data is Clerk's User object, unchanged. */
export const userUpdated = eventType("clerk/user.updated", { schema: clerkUserSchema });

/** `clerk/user.deleted`: data is Clerk's DeletedObject, unchanged. */
export const userDeleted = eventType("clerk/user.deleted", { schema: clerkDeletedUserSchema });

/** The user events: several features consume each. */
export const userEvents = [userCreated, userUpdated, userDeleted] as const;
