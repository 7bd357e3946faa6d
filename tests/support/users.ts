/**
 * Builds users and reads `public.users` for tests.
 */
import type postgres from "postgres";
import { createServiceClient } from "../../functions/database/supabase_client.ts";
import { createSupabaseUsersStore } from "../../functions/users/supabase_users_store.ts";
import type { UsersStore } from "../../functions/users/users_store.ts";
import type { UserRow } from "../../functions/users/user_row.ts";
import type { Postgrest } from "./postgrest.ts";

/** A row of `public.users` as the tests read it. */
export interface StoredUser {
  id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  image_url: string | null;
  clerk_updated_at: Date | null;
  deleted_at: Date | null;
}

/** The users store over supabase-js, pointed at a PostgREST (or the double). */
export function usersStoreAt(postgrest: Postgrest): UsersStore {
  const { url, serviceKey } = postgrest;
  return createSupabaseUsersStore(createServiceClient({ url, serviceKey }));
}

/** Reads one user as the table owner, bypassing RLS. */
export async function readUser(sql: postgres.Sql, id: string): Promise<StoredUser | undefined> {
  const [row] = await sql<StoredUser[]>`
    select id, email, first_name, last_name, username, image_url, clerk_updated_at, deleted_at
      from public.users where id = ${id}`;
  return row;
}

/** A user row at version `version` (its clerk_updated_at, in ms). */
export function userRow(id: string, version: number, patch: Partial<UserRow> = {}): UserRow {
  return {
    id,
    email: `v${version}@example.com`,
    first_name: `First ${version}`,
    last_name: `Last ${version}`,
    username: `user${version}`,
    image_url: `https://img.example.com/${version}.png`,
    clerk_created_at: new Date(1_700_000_000_000).toISOString(),
    clerk_updated_at: new Date(1_700_000_000_000 + version).toISOString(),
    ...patch,
  };
}
