/**
 * Zod schemas for Clerk's Organization and OrganizationMembership payloads,
 * as webhooks and the Backend API carry them.
 *
 * Loose, like every Clerk schema here: real payloads carry fields the docs
 * do not list. The payloads are uneven: `organization.deleted` carries only
 * `{object, id, slug, deleted}` (no `updated_at`), while
 * `organizationMembership.deleted` carries the whole membership.
 */
import { z } from "zod";

/** `data` of `organization.created` and `organization.updated`: a Clerk Organization. */
export const clerkOrganizationSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  slug: z.string().nullable().optional(),
  image_url: z.string().nullable().optional(),
  public_metadata: z.record(z.string(), z.unknown()).nullable().optional(),
  created_by: z.string().nullable().optional(),
  created_at: z.number().int().nonnegative(),
  updated_at: z.number().int().nonnegative(),
});

/** A Clerk Organization, as far as this project reads it. */
export type ClerkOrganization = z.infer<typeof clerkOrganizationSchema>;

/** `data` of `organization.deleted`: `{object, id, slug, deleted}`, nothing more. */
export const clerkDeletedOrganizationSchema = z.looseObject({
  id: z.string().min(1),
  deleted: z.literal(true),
  slug: z.string().nullable().optional(),
});

/** A Clerk DeletedObject for an organization. */
export type ClerkDeletedOrganization = z.infer<typeof clerkDeletedOrganizationSchema>;

/**
 * `data` of `organizationMembership.created|updated|deleted`: a Clerk
 * OrganizationMembership, with its organization and the member's public
 * user data embedded (of which only `user_id` is read).
 */
export const clerkOrganizationMembershipSchema = z.looseObject({
  id: z.string().min(1),
  role: z.string().min(1),
  permissions: z.array(z.string()).nullable().optional(),
  organization: z.looseObject({ id: z.string().min(1) }),
  public_user_data: z.looseObject({ user_id: z.string().min(1) }),
  created_at: z.number().int().nonnegative(),
  updated_at: z.number().int().nonnegative(),
});

/** A Clerk OrganizationMembership, as far as this project reads it. */
export type ClerkOrganizationMembership = z.infer<typeof clerkOrganizationMembershipSchema>;
