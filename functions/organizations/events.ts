/**
 * The Clerk events of organizations and memberships, declared once: the
 * webhook validates their data (the feature lists them in its `events`) and
 * the workflows trigger on them.
 */
import { eventType } from "inngest";
import {
  clerkDeletedOrganizationSchema,
  clerkOrganizationMembershipSchema,
  clerkOrganizationSchema,
} from "../clerk/organization_schemas.ts";

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

/** Every event of organizations and memberships. */
export const organizationEvents = [
  organizationCreated,
  organizationUpdated,
  organizationDeleted,
  organizationMembershipCreated,
  organizationMembershipUpdated,
  organizationMembershipDeleted,
] as const;
