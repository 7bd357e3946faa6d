/**
 * Maps Clerk's Organization and OrganizationMembership objects to rows of
 * `public.organizations` and `public.organization_memberships`.
 *
 * Only what the contract stores: never private metadata, never the member's
 * public user data (names, identifier), of which only `user_id` is kept.
 */
import type {
  ClerkOrganization,
  ClerkOrganizationMembership,
} from "../clerk/organization_schemas.ts";

/** The columns of `public.organizations` that a Clerk organization sets. */
export interface OrganizationRow {
  readonly id: string;
  readonly name: string | null;
  readonly slug: string | null;
  readonly image_url: string | null;
  readonly public_metadata: Record<string, unknown> | null;
  readonly created_by: string | null;
  /** ISO 8601, converted from Clerk's epoch milliseconds. */
  readonly clerk_created_at: string;
  readonly clerk_updated_at: string;
}

/** The columns of `public.organization_memberships` that a Clerk membership sets. */
export interface MembershipRow {
  readonly id: string;
  readonly organization_id: string;
  readonly user_id: string;
  readonly role: string;
  readonly permissions: readonly string[] | null;
  readonly clerk_created_at: string;
  readonly clerk_updated_at: string;
  /** Set for a deletion: when it happened (ISO 8601). */
  readonly deleted_at?: string;
}

/** Builds the row for `org`. */
export function toOrganizationRow(org: ClerkOrganization): OrganizationRow {
  return {
    id: org.id,
    name: text(org.name),
    slug: text(org.slug),
    image_url: text(org.image_url),
    public_metadata: metadata(org.public_metadata),
    created_by: text(org.created_by),
    clerk_created_at: new Date(org.created_at).toISOString(),
    clerk_updated_at: new Date(org.updated_at).toISOString(),
  };
}

/** Builds the row for `membership`; `deletedAt` marks a deletion. */
export function toMembershipRow(
  membership: ClerkOrganizationMembership,
  deletedAt?: string,
): MembershipRow {
  return {
    id: membership.id,
    organization_id: membership.organization.id,
    user_id: membership.public_user_data.user_id,
    role: text(membership.role) ?? "",
    permissions: membership.permissions?.map((p) => text(p) ?? "") ?? null,
    clerk_created_at: new Date(membership.created_at).toISOString(),
    clerk_updated_at: new Date(membership.updated_at).toISOString(),
    ...(deletedAt ? { deleted_at: deletedAt } : {}),
  };
}

// PostgreSQL text and jsonb cannot hold U+0000, and JSON can. Left in, it
// would fail its write on every retry; it carries no meaning, so drop it.
function text(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.includes("\u0000") ? value.replaceAll("\u0000", "") : value;
}

function metadata(value: Record<string, unknown> | null | undefined) {
  if (value === null || value === undefined) return null;
  const json = JSON.stringify(value);
  return json.includes("\\u0000") ? JSON.parse(json.replaceAll("\\u0000", "")) : value;
}
