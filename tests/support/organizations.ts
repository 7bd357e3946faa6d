/**
 * Builds organization and membership rows, and reads the two tables, for tests.
 */
import type postgres from "postgres";
import { createServiceClient } from "../../functions/database/supabase_client.ts";
import { createSupabaseOrganizationsStore } from "../../functions/organizations/supabase_store.ts";
import type { OrganizationsStore } from "../../functions/organizations/store.ts";
import type { MembershipRow, OrganizationRow } from "../../functions/organizations/rows.ts";
import type { Postgrest } from "./postgrest.ts";

/** The organizations store over supabase-js, pointed at a PostgREST (or the double). */
export function organizationsStoreAt(postgrest: Postgrest): OrganizationsStore {
  const { url, serviceKey } = postgrest;
  return createSupabaseOrganizationsStore(createServiceClient({ url, serviceKey }));
}

/** A fresh id with Clerk's prefix. */
export function newId(prefix: "org" | "orgmem" | "user"): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 27)}`;
}

const BASE = 1_700_000_000_000;

/** An organization row at version `version` (its clerk_updated_at, in ms after BASE). */
export function orgRow(id: string, version: number, patch: Partial<OrganizationRow> = {}) {
  return {
    id,
    name: `Org v${version}`,
    slug: `org-v${version}`,
    image_url: `https://img.example.com/org/${version}.png`,
    public_metadata: { version },
    created_by: "user_creator",
    clerk_created_at: new Date(BASE).toISOString(),
    clerk_updated_at: new Date(BASE + version).toISOString(),
    ...patch,
  } satisfies OrganizationRow;
}

/** A membership row at version `version`, created at `created` (ms after BASE). */
export function membershipRow(
  id: string,
  organizationId: string,
  userId: string,
  version: number,
  patch: Partial<MembershipRow> & { created?: number } = {},
): MembershipRow {
  const { created = 0, ...rest } = patch;
  return {
    id,
    organization_id: organizationId,
    user_id: userId,
    role: `org:role_v${version}`,
    permissions: [`org:perm:v${version}`],
    clerk_created_at: new Date(BASE + created).toISOString(),
    clerk_updated_at: new Date(BASE + created + version).toISOString(),
    ...rest,
  };
}

/** A row of `public.organizations`, read as the table owner. */
export async function readOrg(sql: postgres.Sql, id: string) {
  const [row] = await sql<{
    id: string;
    name: string | null;
    slug: string | null;
    image_url: string | null;
    public_metadata: Record<string, unknown> | null;
    clerk_updated_at: Date | null;
    deleted_at: Date | null;
  }[]>`select * from public.organizations where id = ${id}`;
  return row;
}

/** A row of `public.organization_memberships`, read as the table owner. */
export async function readMembership(sql: postgres.Sql, id: string) {
  const [row] = await sql<{
    id: string;
    organization_id: string;
    user_id: string;
    role: string | null;
    permissions: string[] | null;
    clerk_updated_at: Date | null;
    deleted_at: Date | null;
  }[]>`select * from public.organization_memberships where id = ${id}`;
  return row;
}

/** The ids of the live memberships of `userId` in `organizationId`. */
export async function liveMemberships(sql: postgres.Sql, organizationId: string, userId: string) {
  const rows = await sql<{ id: string }[]>`
    select id from public.organization_memberships
     where organization_id = ${organizationId} and user_id = ${userId} and deleted_at is null
     order by id`;
  return rows.map((r) => r.id);
}
