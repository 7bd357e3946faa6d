-- public.users: one row per Clerk user, written only by the clerk-events
-- edge function through the two functions below.
--
-- Ordering rule: Clerk delivers webhooks at least once and in no guaranteed
-- order. A row therefore only ever moves forward: an update applies when its
-- clerk_updated_at is strictly newer than the stored one, and a deleted user
-- stays a tombstone (deleted_at set, personal data erased) forever.

create table public.users (
  id text primary key,
  email text,
  first_name text,
  last_name text,
  username text,
  image_url text,
  clerk_created_at timestamptz,
  clerk_updated_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_tombstone_has_no_personal_data check (
    deleted_at is null
    or (email is null and first_name is null and last_name is null
        and username is null and image_url is null)
  )
);

comment on table public.users is
  'Clerk users mirrored by the clerk-events edge function. Newest clerk_updated_at wins; deleted users stay as tombstones without personal data.';
comment on column public.users.id is 'Clerk user id (user_...). Matches the sub claim of Clerk session tokens.';
comment on column public.users.email is 'The address whose id is primary_email_address_id in Clerk. Null when the user has none, and after deletion.';
comment on column public.users.first_name is 'First name from Clerk. Null after deletion.';
comment on column public.users.last_name is 'Last name from Clerk. Null after deletion.';
comment on column public.users.username is 'Username from Clerk, when usernames are enabled. Null after deletion.';
comment on column public.users.image_url is 'Profile image URL from Clerk. Null after deletion.';
comment on column public.users.clerk_created_at is 'When Clerk created the user (from created_at, epoch ms).';
comment on column public.users.clerk_updated_at is 'Clerk''s updated_at of the newest version applied. Older or equal versions are ignored.';
comment on column public.users.deleted_at is 'Null while the user exists. Set when user.deleted arrives; the row then stays as a tombstone.';
comment on column public.users.created_at is 'When this row was first written.';
comment on column public.users.updated_at is 'When this row was last changed.';

alter table public.users enable row level security;

-- Clerk third-party auth puts the Clerk user id in the sub claim.
create policy "Users can read their own row"
  on public.users
  for select
  to authenticated
  using (id = (select auth.jwt() ->> 'sub'));

-- Defence in depth: RLS already denies these, but nobody but the service
-- role has any business writing here, and anon has nothing to read.
revoke all on table public.users from anon;
revoke insert, update, delete, truncate, references, trigger on table public.users from authenticated;
grant select on table public.users to authenticated;
grant all on table public.users to service_role;

-- Applies a user.created or user.updated payload. Returns what happened:
-- 'inserted', 'updated', 'stale' (not newer than the stored version) or
-- 'deleted' (the user is a tombstone; nothing is restored).
create function public.upsert_user_from_clerk(
  p_id text,
  p_email text,
  p_first_name text,
  p_last_name text,
  p_username text,
  p_image_url text,
  p_clerk_created_at timestamptz,
  p_clerk_updated_at timestamptz
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
begin
  if p_id is null or p_id = '' then
    raise exception 'Cannot upsert user: id is required' using errcode = '22023';
  end if;
  if p_clerk_updated_at is null then
    raise exception 'Cannot upsert user "%": clerk_updated_at is required', p_id using errcode = '22023';
  end if;

  insert into public.users as u (
    id, email, first_name, last_name, username, image_url,
    clerk_created_at, clerk_updated_at
  ) values (
    p_id, p_email, p_first_name, p_last_name, p_username, p_image_url,
    p_clerk_created_at, p_clerk_updated_at
  )
  on conflict (id) do update set
    email = excluded.email,
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    username = excluded.username,
    image_url = excluded.image_url,
    clerk_created_at = coalesce(u.clerk_created_at, excluded.clerk_created_at),
    clerk_updated_at = excluded.clerk_updated_at,
    updated_at = now()
  where u.deleted_at is null
    and (u.clerk_updated_at is null or u.clerk_updated_at < excluded.clerk_updated_at)
  returning case when xmax = 0 then 'inserted' else 'updated' end into v_outcome;

  if v_outcome is null then
    select case when u.deleted_at is not null then 'deleted' else 'stale' end
      into v_outcome
      from public.users u
     where u.id = p_id;
  end if;
  return v_outcome;
end;
$$;

comment on function public.upsert_user_from_clerk is
  'Applies a Clerk user.created/user.updated payload. Newest clerk_updated_at wins; tombstones are never restored. Returns inserted, updated, stale or deleted.';

-- Applies a user.deleted payload: erases personal data and keeps a tombstone,
-- creating one for an id never seen before. Returns 'deleted' the first time
-- and 'already_deleted' after that.
create function public.delete_user_from_clerk(
  p_id text,
  p_deleted_at timestamptz default now()
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
begin
  if p_id is null or p_id = '' then
    raise exception 'Cannot delete user: id is required' using errcode = '22023';
  end if;

  insert into public.users as u (id, deleted_at)
  values (p_id, coalesce(p_deleted_at, now()))
  on conflict (id) do update set
    email = null,
    first_name = null,
    last_name = null,
    username = null,
    image_url = null,
    deleted_at = coalesce(u.deleted_at, excluded.deleted_at),
    updated_at = now()
  where u.deleted_at is null
  returning 'deleted' into v_outcome;

  return coalesce(v_outcome, 'already_deleted');
end;
$$;

comment on function public.delete_user_from_clerk is
  'Applies a Clerk user.deleted payload: erases personal data and keeps the row as a tombstone. Returns deleted or already_deleted.';

-- Supabase grants EXECUTE on new functions to anon and authenticated by
-- default. These write functions are for the service role only.
revoke all on function public.upsert_user_from_clerk(text, text, text, text, text, text, timestamptz, timestamptz) from public, anon, authenticated;
revoke all on function public.delete_user_from_clerk(text, timestamptz) from public, anon, authenticated;
grant execute on function public.upsert_user_from_clerk(text, text, text, text, text, text, timestamptz, timestamptz) to service_role;
grant execute on function public.delete_user_from_clerk(text, timestamptz) to service_role;
