-- Clerk organizations and memberships (B2B), mirrored the way users are.
--
-- public.organizations and public.organization_memberships are written only
-- by the clerk-events edge function, through the set-based functions below
-- (one statement per call, whatever the number of rows), with the rules of
-- public.users: the newest clerk_updated_at wins in any order of arrival,
-- and a tombstone (deleted_at set) is never made live again.
--
-- - An organization's deletion carries no updated_at: its deleted_at is the
--   event's ts. A deleted organization keeps its id and loses its name,
--   slug, image and public metadata; its memberships stop being live.
-- - A membership may arrive before its organization or its user: there is
--   no foreign key to refuse it. It is born a tombstone when its
--   organization or user is one already, or when a newer membership of the
--   same user in the same organization exists (leaving and re-joining makes
--   a new membership id; the old one is over).
-- - Every membership of a deleted user stops being live, whichever path
--   tombstoned the user (webhook, reconcile, /users/me/sync): a trigger on
--   public.users does it.
-- - Private metadata and the member's public user data (names, identifier)
--   are never stored.
--
-- Row level security: a member reads the live organizations they belong to
-- and the live memberships of those organizations; nobody else reads
-- anything; only the service role writes. The helpers is_org_member,
-- org_role, active_org_id and active_org_role are for the app's own
-- policies (docs/organizations.md).

create table public.organizations (
  id text primary key,
  name text,
  slug text,
  image_url text,
  public_metadata jsonb,
  created_by text,
  clerk_created_at timestamptz,
  clerk_updated_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint organizations_tombstone_is_erased check (
    deleted_at is null
    or (name is null and slug is null and image_url is null and public_metadata is null)
  )
);

comment on table public.organizations is
  'Clerk organizations mirrored by the clerk-events edge function. Newest clerk_updated_at wins; deleted organizations stay as tombstones without name, slug, image or metadata.';
comment on column public.organizations.id is 'Clerk organization id (org_...). The org_id claim (v1) or o.id claim (v2) of Clerk session tokens.';
comment on column public.organizations.public_metadata is 'Clerk''s public_metadata of the organization. Private metadata is never stored.';
comment on column public.organizations.created_by is 'Clerk user id of the user who created the organization.';
comment on column public.organizations.clerk_updated_at is 'Clerk''s updated_at of the newest version applied (for a tombstone, at least its deletion time). Older or equal versions are ignored.';
comment on column public.organizations.deleted_at is 'Null while the organization exists. The ts of organization.deleted (or when the reconcile confirmed it gone); the row then stays as a tombstone.';

create table public.organization_memberships (
  id text primary key,
  organization_id text not null,
  user_id text not null,
  role text,
  permissions text[],
  clerk_created_at timestamptz,
  clerk_updated_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.organization_memberships is
  'Clerk organization memberships mirrored by the clerk-events edge function. Live while deleted_at is null; a deleted membership, a membership of a deleted organization and the memberships of a deleted user are not live, and nothing makes them live again.';
comment on column public.organization_memberships.id is 'Clerk membership id (orgmem_...). Leaving and re-joining makes a new one.';
comment on column public.organization_memberships.organization_id is 'Clerk organization id. No foreign key: a membership may arrive before its organization.';
comment on column public.organization_memberships.user_id is 'Clerk user id (public_user_data.user_id). No foreign key: a membership may arrive before its user.';
comment on column public.organization_memberships.role is 'The role key, such as org:admin or org:member.';
comment on column public.organization_memberships.permissions is 'The permission keys Clerk lists for the membership.';
comment on column public.organization_memberships.deleted_at is 'Null while the membership is live.';

create index organization_memberships_user_idx
  on public.organization_memberships (user_id, organization_id);
create index organization_memberships_organization_idx
  on public.organization_memberships (organization_id, user_id);

alter table public.organizations enable row level security;
alter table public.organization_memberships enable row level security;

revoke all on table public.organizations, public.organization_memberships from anon;
revoke insert, update, delete, truncate, references, trigger
  on table public.organizations, public.organization_memberships from authenticated;
grant select on table public.organizations, public.organization_memberships to authenticated;
grant all on table public.organizations, public.organization_memberships to service_role;

-- The helpers. Security definer, so that they read memberships whatever the
-- caller may read (and a policy that calls them does not recurse into the
-- policies of organization_memberships). Without a sub claim they answer
-- false or null.

-- Whether the caller has a live membership in p_org_id, and the
-- organization is not a tombstone (a membership that arrived before its
-- organization's row counts).
create function public.is_org_member(org_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select exists (
      select from public.organization_memberships m
       where m.organization_id = is_org_member.org_id
         and m.user_id = (auth.jwt() ->> 'sub')
         and m.deleted_at is null
    ) and not exists (
      select from public.organizations o
       where o.id = is_org_member.org_id and o.deleted_at is not null
    )
  ), false);
$$;

comment on function public.is_org_member(text) is
  'True when the caller (auth.jwt() ->> ''sub'') has a live membership in the organization and the organization is not deleted. False without a sub.';

-- The role of the caller's newest live membership in p_org_id, or null.
create function public.org_role(org_id text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select m.role
    from public.organization_memberships m
   where m.organization_id = org_role.org_id
     and m.user_id = (auth.jwt() ->> 'sub')
     and m.deleted_at is null
     and not exists (
       select from public.organizations o
        where o.id = org_role.org_id and o.deleted_at is not null
     )
   order by m.clerk_created_at desc nulls last, m.clerk_updated_at desc nulls last
   limit 1;
$$;

comment on function public.org_role(text) is
  'The role (such as org:admin) of the caller''s newest live membership in the organization, or null.';

-- The active organization of the session token: v1 claim org_id, or v2
-- claim o.id. Null without a sub or without an active organization.
create function public.active_org_id()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select case when nullif(auth.jwt() ->> 'sub', '') is not null then
    coalesce(nullif(auth.jwt() ->> 'org_id', ''), nullif(auth.jwt() -> 'o' ->> 'id', ''))
  end;
$$;

comment on function public.active_org_id() is
  'The session token''s active organization: the org_id claim (v1) or o.id (v2). Null without a sub or an active organization.';

-- The caller's role in the active organization, as v1 tokens carry it
-- (org:admin): v1 claim org_role, or v2 claim o.rol (admin) prefixed with
-- org:. Null without a sub or without an active organization.
create function public.active_org_role()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select case when nullif(auth.jwt() ->> 'sub', '') is not null then
    coalesce(
      nullif(auth.jwt() ->> 'org_role', ''),
      case
        when nullif(auth.jwt() -> 'o' ->> 'rol', '') is null then null
        when (auth.jwt() -> 'o' ->> 'rol') like 'org:%' then auth.jwt() -> 'o' ->> 'rol'
        else 'org:' || (auth.jwt() -> 'o' ->> 'rol')
      end
    )
  end;
$$;

comment on function public.active_org_role() is
  'The session token''s role in the active organization: org_role (v1), or ''org:'' || o.rol (v2). Null without a sub or an active organization.';

revoke all on function public.is_org_member(text) from public;
revoke all on function public.org_role(text) from public;
revoke all on function public.active_org_id() from public;
revoke all on function public.active_org_role() from public;
grant execute on function public.is_org_member(text) to anon, authenticated, service_role;
grant execute on function public.org_role(text) to anon, authenticated, service_role;
grant execute on function public.active_org_id() to anon, authenticated, service_role;
grant execute on function public.active_org_role() to anon, authenticated, service_role;

create policy "Members read their live organizations"
  on public.organizations
  for select
  to authenticated
  using (deleted_at is null and public.is_org_member(id));

create policy "Members read the live memberships of their organizations"
  on public.organization_memberships
  for select
  to authenticated
  using (deleted_at is null and public.is_org_member(organization_id));

-- Applies Clerk organizations (organization.created/updated, or the Backend
-- API): p_organizations is a JSON array of rows (id, name, slug, image_url,
-- public_metadata, created_by, clerk_created_at, clerk_updated_at). The
-- newest clerk_updated_at wins; a tombstone is never restored. Returns each
-- input row's outcome, in input order: inserted, updated, or null (not newer
-- than its row, or a tombstone).
create function public.upsert_organizations_from_clerk(p_organizations jsonb)
returns text[]
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad text;
  v_outcomes text[];
begin
  select coalesce(r.id, '') into v_bad
    from jsonb_to_recordset(p_organizations) as r(id text, clerk_updated_at timestamptz)
   where r.id is null or r.id = '' or r.clerk_updated_at is null
   limit 1;
  if v_bad = '' then
    raise exception 'Cannot upsert organization: id is required' using errcode = '22023';
  elsif v_bad is not null then
    raise exception 'Cannot upsert organization "%": clerk_updated_at is required', v_bad
      using errcode = '22023';
  end if;

  with input as (
    -- One version per id (the newest): ON CONFLICT cannot touch a row twice.
    select distinct on (r.id) r.*
      from jsonb_to_recordset(p_organizations) as r(
        id text, name text, slug text, image_url text, public_metadata jsonb,
        created_by text, clerk_created_at timestamptz, clerk_updated_at timestamptz)
     order by r.id, r.clerk_updated_at desc
  ), written as (
    insert into public.organizations as o (
      id, name, slug, image_url, public_metadata, created_by,
      clerk_created_at, clerk_updated_at
    )
    select i.id, i.name, i.slug, i.image_url, i.public_metadata, i.created_by,
           i.clerk_created_at, i.clerk_updated_at
      from input i
    on conflict (id) do update set
      name = excluded.name,
      slug = excluded.slug,
      image_url = excluded.image_url,
      public_metadata = excluded.public_metadata,
      created_by = coalesce(excluded.created_by, o.created_by),
      clerk_created_at = coalesce(o.clerk_created_at, excluded.clerk_created_at),
      clerk_updated_at = excluded.clerk_updated_at,
      updated_at = now()
    where o.deleted_at is null
      and (o.clerk_updated_at is null or o.clerk_updated_at < excluded.clerk_updated_at)
    returning o.id, case when o.xmax = 0 then 'inserted' else 'updated' end as outcome
  )
  select array_agg(w.outcome order by r.n)
    into v_outcomes
    from jsonb_array_elements(p_organizations) with ordinality as r(value, n)
    left join written w on w.id = r.value ->> 'id';
  return coalesce(v_outcomes, '{}');
end;
$$;

comment on function public.upsert_organizations_from_clerk(jsonb) is
  'Applies Clerk organizations in one statement. Newest clerk_updated_at wins; tombstones are never restored. Returns inserted, updated or null per input row.';

-- Tombstones organizations: erases name, slug, image_url and public_metadata,
-- sets deleted_at to p_deleted_at (the event's ts; the earliest deletion
-- time stays), creating a tombstone for an id never seen. Every live
-- membership of these organizations stops being live at the same time.
-- Returns deleted or already_deleted per id, in input order.
create function public.delete_organizations_from_clerk(
  p_ids jsonb,
  p_deleted_at timestamptz default now()
) returns text[]
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_at timestamptz := coalesce(p_deleted_at, now());
  v_ids text[] := array(select jsonb_array_elements_text(coalesce(p_ids, '[]')));
  v_outcomes text[];
begin
  if exists (select from unnest(v_ids) as i(id) where i.id is null or i.id = '') then
    raise exception 'Cannot delete organization: id is required' using errcode = '22023';
  end if;

  with ids as (
    select distinct i.id from unnest(v_ids) as i(id)
  ), previous as (
    select o.id, o.deleted_at from public.organizations o join ids on ids.id = o.id
  ), written as (
    insert into public.organizations as o (id, deleted_at, clerk_updated_at)
    select ids.id, v_at, v_at from ids
    on conflict (id) do update set
      name = null,
      slug = null,
      image_url = null,
      public_metadata = null,
      deleted_at = least(coalesce(o.deleted_at, excluded.deleted_at), excluded.deleted_at),
      clerk_updated_at = greatest(o.clerk_updated_at, excluded.clerk_updated_at),
      updated_at = now()
    where o.deleted_at is null or o.deleted_at > excluded.deleted_at
    returning o.id
  )
  select array_agg(
           case when w.id is not null and p.deleted_at is null then 'deleted'
                else 'already_deleted' end
           order by i.n)
    into v_outcomes
    from unnest(v_ids) with ordinality as i(id, n)
    left join written w on w.id = i.id
    left join previous p on p.id = i.id;

  -- The cascade: memberships of a deleted organization are not live.
  update public.organization_memberships m
     set deleted_at = o.deleted_at, updated_at = now()
    from public.organizations o
   where o.id = any(v_ids)
     and o.deleted_at is not null
     and m.organization_id = o.id
     and m.deleted_at is null;

  return coalesce(v_outcomes, '{}');
end;
$$;

comment on function public.delete_organizations_from_clerk(jsonb, timestamptz) is
  'Tombstones organizations (organization.deleted, or confirmed gone by the reconcile) and ends their memberships. Returns deleted or already_deleted per id.';

-- Applies Clerk memberships (organizationMembership.created/updated/deleted,
-- or the Backend API): p_memberships is a JSON array of rows (id,
-- organization_id, user_id, role, permissions, clerk_created_at,
-- clerk_updated_at, and deleted_at for a deletion). The newest
-- clerk_updated_at wins; a deletion always applies to a live row; a row that
-- is not live stays so. A membership is born not live when its organization
-- or its user is a tombstone, or when a newer membership of the same user in
-- the same organization exists; a newer one ends the older live ones.
-- Returns each input row's outcome, in input order: inserted, updated,
-- deleted, or null (not newer than its row, or not live).
create function public.upsert_organization_memberships_from_clerk(p_memberships jsonb)
returns text[]
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad text;
  v_outcomes text[];
begin
  select coalesce(r.id, '') into v_bad
    from jsonb_to_recordset(p_memberships) as r(
      id text, organization_id text, user_id text, clerk_updated_at timestamptz)
   where r.id is null or r.id = '' or r.clerk_updated_at is null
      or r.organization_id is null or r.organization_id = '' or r.user_id is null
      or r.user_id = ''
   limit 1;
  if v_bad = '' then
    raise exception 'Cannot upsert membership: id is required' using errcode = '22023';
  elsif v_bad is not null then
    raise exception
      'Cannot upsert membership "%": organization_id, user_id and clerk_updated_at are required',
      v_bad using errcode = '22023';
  end if;

  with unique_ids as (
    select distinct on (r.id) r.*
      from jsonb_to_recordset(p_memberships) as r(
        id text, organization_id text, user_id text, role text, permissions text[],
        clerk_created_at timestamptz, clerk_updated_at timestamptz, deleted_at timestamptz)
     order by r.id, r.deleted_at is not null desc, r.clerk_updated_at desc
  ), input as (
    -- next_joined_at: when the same user joined the same organization again
    -- later, within this call.
    select u.*,
           lead(u.clerk_created_at) over (
             partition by u.organization_id, u.user_id order by u.clerk_created_at
           ) as next_joined_at
      from unique_ids u
  ), older as (
    -- Looked up by (organization_id, user_id), one index probe per row,
    -- so that the cost of a call does not grow with the table.
    select n.id, max(i.clerk_created_at) as rejoined_at
      from input i
      cross join lateral (
        select n.id from public.organization_memberships n
         where n.organization_id = i.organization_id
           and n.user_id = i.user_id
           and n.id <> i.id
           and n.deleted_at is null
           and n.clerk_created_at < i.clerk_created_at
        offset 0 -- keeps the lookup per row (an index probe), not a join over the table
      ) n
     where n.id not in (select id from input)
     group by n.id
  ), ended as (
    -- A newer membership of the same user in the same organization ends
    -- the older live ones: the user left and joined again.
    update public.organization_memberships m
       set deleted_at = o.rejoined_at, updated_at = now()
      from older o
     where m.id = o.id
    returning m.id
  ), decided as (
    select i.id, i.organization_id, i.user_id, i.role, i.permissions,
           i.clerk_created_at, i.clerk_updated_at,
           coalesce(
             i.deleted_at,
             o.deleted_at,
             u.deleted_at,
             (select min(n.clerk_created_at)
                from public.organization_memberships n
               where n.organization_id = i.organization_id
                 and n.user_id = i.user_id
                 and n.id <> i.id
                 and n.clerk_created_at > i.clerk_created_at),
             case when i.next_joined_at > i.clerk_created_at then i.next_joined_at end
           ) as deleted_at
      from input i
      left join lateral (
        select o.deleted_at from public.organizations o
         where o.id = i.organization_id and o.deleted_at is not null
        offset 0
      ) o on true
      left join lateral (
        select u.deleted_at from public.users u
         where u.id = i.user_id and u.deleted_at is not null
        offset 0
      ) u on true
  ), written as (
    insert into public.organization_memberships as m (
      id, organization_id, user_id, role, permissions,
      clerk_created_at, clerk_updated_at, deleted_at
    )
    select d.id, d.organization_id, d.user_id, d.role, d.permissions,
           d.clerk_created_at, d.clerk_updated_at, d.deleted_at
      from decided d
    on conflict (id) do update set
      role = case when m.clerk_updated_at >= excluded.clerk_updated_at then m.role
                  else excluded.role end,
      permissions = case when m.clerk_updated_at >= excluded.clerk_updated_at then m.permissions
                         else excluded.permissions end,
      clerk_created_at = coalesce(m.clerk_created_at, excluded.clerk_created_at),
      clerk_updated_at = greatest(m.clerk_updated_at, excluded.clerk_updated_at),
      deleted_at = excluded.deleted_at,
      updated_at = now()
    where m.deleted_at is null
      and (excluded.deleted_at is not null
        or m.clerk_updated_at is null or m.clerk_updated_at < excluded.clerk_updated_at)
    returning m.id,
      case when m.deleted_at is not null then 'deleted'
           when m.xmax = 0 then 'inserted'
           else 'updated' end as outcome
  )
  select array_agg(w.outcome order by r.n)
    into v_outcomes
    from jsonb_array_elements(p_memberships) with ordinality as r(value, n)
    left join written w on w.id = r.value ->> 'id';
  return coalesce(v_outcomes, '{}');
end;
$$;

comment on function public.upsert_organization_memberships_from_clerk(jsonb) is
  'Applies Clerk organization memberships in one call. Newest clerk_updated_at wins; a membership that is not live never becomes live again. Returns inserted, updated, deleted or null per input row.';

-- What a single event did to its organization: the outcome of the set-based
-- function, or stale (not newer) or deleted (a tombstone) when it wrote nothing.
create function public.apply_organization_from_clerk(p_organization jsonb)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
begin
  v_outcome := (public.upsert_organizations_from_clerk(jsonb_build_array(p_organization)))[1];
  if v_outcome is null then
    select case when o.deleted_at is not null then 'deleted' else 'stale' end
      into v_outcome
      from public.organizations o
     where o.id = p_organization ->> 'id';
  end if;
  return v_outcome;
end;
$$;

-- The same for one membership: inserted, updated, deleted, stale (not newer)
-- or not_live (the membership, its organization or its user is a tombstone).
create function public.apply_organization_membership_from_clerk(p_membership jsonb)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
begin
  v_outcome := (public.upsert_organization_memberships_from_clerk(
    jsonb_build_array(p_membership)))[1];
  if v_outcome is null then
    select case when m.deleted_at is not null then 'not_live' else 'stale' end
      into v_outcome
      from public.organization_memberships m
     where m.id = p_membership ->> 'id';
  end if;
  return v_outcome;
end;
$$;

-- A deleted user's memberships stop being live, whichever path tombstoned
-- the user (delete_user_from_clerk from the webhook, the reconcile or
-- /users/me/sync). A later membership event for the user is born not live
-- (see upsert_organization_memberships_from_clerk).
create function public.end_memberships_of_deleted_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.organization_memberships m
     set deleted_at = new.deleted_at, updated_at = now()
   where m.user_id = new.id and m.deleted_at is null;
  return null;
end;
$$;

create trigger users_end_memberships_when_deleted
  after insert or update of deleted_at on public.users
  for each row
  when (new.deleted_at is not null)
  execute function public.end_memberships_of_deleted_user();

revoke all on function public.upsert_organizations_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.delete_organizations_from_clerk(jsonb, timestamptz) from public, anon, authenticated;
revoke all on function public.upsert_organization_memberships_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.apply_organization_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.apply_organization_membership_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.end_memberships_of_deleted_user() from public, anon, authenticated;
grant execute on function public.upsert_organizations_from_clerk(jsonb) to service_role;
grant execute on function public.delete_organizations_from_clerk(jsonb, timestamptz) to service_role;
grant execute on function public.upsert_organization_memberships_from_clerk(jsonb) to service_role;
grant execute on function public.apply_organization_from_clerk(jsonb) to service_role;
grant execute on function public.apply_organization_membership_from_clerk(jsonb) to service_role;
grant execute on function public.end_memberships_of_deleted_user() to service_role;

-- POST /clerk-events/users/me/sync: applies every membership of p_user_id
-- that Clerk listed (GET /v1/users/{id}/organization_memberships) at
-- p_listed_at, and their organizations, with the rules above; ends the
-- user's live memberships created before then that Clerk no longer lists
-- (the user left). Returns the user's live memberships in live
-- organizations: [{organization_id, role}].
create function public.sync_user_memberships_from_clerk_api(
  p_user_id text,
  p_organizations jsonb,
  p_memberships jsonb,
  p_listed_at timestamptz
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_user_id is null or p_user_id = '' then
    raise exception 'Cannot sync memberships: user id is required' using errcode = '22023';
  end if;
  if exists (
    select from jsonb_to_recordset(p_memberships) as r(user_id text) where r.user_id <> p_user_id
  ) then
    raise exception 'Cannot sync memberships of "%": a membership of another user', p_user_id
      using errcode = '22023';
  end if;
  perform public.upsert_organizations_from_clerk(coalesce(p_organizations, '[]'));
  perform public.upsert_organization_memberships_from_clerk(coalesce(p_memberships, '[]'));
  update public.organization_memberships m
     set deleted_at = p_listed_at, updated_at = now()
   where m.user_id = p_user_id
     and m.deleted_at is null
     and m.clerk_created_at < p_listed_at
     and m.id not in (select r.id from jsonb_to_recordset(p_memberships) as r(id text));
  return public.user_live_memberships(p_user_id);
end;
$$;

comment on function public.sync_user_memberships_from_clerk_api is
  'Applies a user''s memberships and organizations read from Clerk''s Backend API, ends those Clerk no longer lists, and returns the live ones as [{organization_id, role}].';

revoke all on function public.sync_user_memberships_from_clerk_api(text, jsonb, jsonb, timestamptz) from public, anon, authenticated;
grant execute on function public.sync_user_memberships_from_clerk_api(text, jsonb, jsonb, timestamptz) to service_role;

-- The user's live memberships in live organizations, as
-- /clerk-events/users/me/sync answers them: [{organization_id, role}].
create function public.user_live_memberships(p_user_id text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object('organization_id', m.organization_id,
                                               'role', m.role)
                            order by m.organization_id), '[]')
    from public.organization_memberships m
   where m.user_id = p_user_id
     and m.deleted_at is null
     and not exists (
       select from public.organizations o
        where o.id = m.organization_id and o.deleted_at is not null);
$$;

revoke all on function public.user_live_memberships(text) from public, anon, authenticated;
grant execute on function public.user_live_memberships(text) to service_role;

-- Reconciliation (reconcile-users-with-clerk also repairs organizations and
-- memberships). The same bookkeeping as for users: the ids each page listed
-- go to public.clerk_sync_org_seen, and the rows Clerk did not list, to
-- confirm with Clerk before tombstoning them, to public.clerk_sync_org_absent.

alter table public.clerk_sync_runs
  add column organizations_listed integer not null default 0,
  add column organizations_inserted integer not null default 0,
  add column organizations_updated integer not null default 0,
  add column organizations_unchanged integer not null default 0,
  add column organizations_tombstoned integer not null default 0,
  add column memberships_listed integer not null default 0,
  add column memberships_inserted integer not null default 0,
  add column memberships_updated integer not null default 0,
  add column memberships_unchanged integer not null default 0,
  add column memberships_tombstoned integer not null default 0;

comment on column public.clerk_sync_runs.organizations_listed is 'Organizations Clerk listed.';
comment on column public.clerk_sync_runs.organizations_inserted is 'Organizations missing from public.organizations, now added.';
comment on column public.clerk_sync_runs.organizations_updated is 'Organization rows older than Clerk''s copy, now updated.';
comment on column public.clerk_sync_runs.organizations_unchanged is 'Organization rows as new as Clerk''s copy (or newer), and tombstones.';
comment on column public.clerk_sync_runs.organizations_tombstoned is 'Organizations Clerk confirmed deleted (404), now tombstoned with their memberships.';
comment on column public.clerk_sync_runs.memberships_listed is 'Memberships Clerk listed.';
comment on column public.clerk_sync_runs.memberships_inserted is 'Memberships missing from public.organization_memberships, now added.';
comment on column public.clerk_sync_runs.memberships_updated is 'Membership rows older than Clerk''s copy, now updated.';
comment on column public.clerk_sync_runs.memberships_unchanged is 'Membership rows as new as Clerk''s copy (or newer), and memberships that are not live.';
comment on column public.clerk_sync_runs.memberships_tombstoned is 'Memberships Clerk no longer has (the per-organization check omits them, or the organization is gone), now not live.';

create table public.clerk_sync_org_seen (
  run_id uuid not null references public.clerk_sync_runs (id) on delete cascade,
  kind text not null check (kind in ('organization', 'membership')),
  page_offset integer not null,
  ids text[] not null,
  primary key (run_id, kind, page_offset)
);

comment on table public.clerk_sync_org_seen is
  'The organization and membership ids each page of a reconcile run listed; emptied when the run ends.';

create table public.clerk_sync_org_absent (
  run_id uuid not null references public.clerk_sync_runs (id) on delete cascade,
  kind text not null check (kind in ('organization', 'membership')),
  id text not null,
  organization_id text,
  user_id text,
  primary key (run_id, kind, id)
);

comment on table public.clerk_sync_org_absent is
  'Organizations and memberships a reconcile run did not see in Clerk''s lists, still to confirm with Clerk; emptied as they are confirmed.';

alter table public.clerk_sync_org_seen enable row level security;
alter table public.clerk_sync_org_absent enable row level security;
-- No policies: only the service role (which bypasses RLS) reads or writes.
revoke all on table public.clerk_sync_org_seen, public.clerk_sync_org_absent
  from anon, authenticated;
grant all on table public.clerk_sync_org_seen, public.clerk_sync_org_absent to service_role;

-- Adds the outcomes of applied rows of p_kind to a run's counts (null, or
-- deleted for a membership born not live: unchanged).
create function public.count_clerk_org_sync_outcomes(
  p_run_id uuid,
  p_kind text,
  p_outcomes text[]
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_counts jsonb;
  v_listed integer;
  v_inserted integer;
  v_updated integer;
  v_unchanged integer;
begin
  select count(*), count(*) filter (where o = 'inserted'), count(*) filter (where o = 'updated'),
         count(*) filter (where o is null or o = 'deleted')
    into v_listed, v_inserted, v_updated, v_unchanged
    from unnest(p_outcomes) as o;
  if p_kind = 'organization' then
    update public.clerk_sync_runs r
       set organizations_listed = r.organizations_listed + v_listed,
           organizations_inserted = r.organizations_inserted + v_inserted,
           organizations_updated = r.organizations_updated + v_updated,
           organizations_unchanged = r.organizations_unchanged + v_unchanged
     where r.id = p_run_id;
  else
    update public.clerk_sync_runs r
       set memberships_listed = r.memberships_listed + v_listed,
           memberships_inserted = r.memberships_inserted + v_inserted,
           memberships_updated = r.memberships_updated + v_updated,
           memberships_unchanged = r.memberships_unchanged + v_unchanged
     where r.id = p_run_id;
  end if;
  v_counts := jsonb_build_object('listed', v_listed, 'inserted', v_inserted,
    'updated', v_updated, 'unchanged', v_unchanged);
  return v_counts;
end;
$$;

-- Applies rows of p_kind and returns their outcomes; in a dry run the writes
-- are rolled back and the outcomes kept.
create function public.apply_clerk_org_rows(p_kind text, p_rows jsonb, p_dry_run boolean)
returns text[]
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcomes text[];
begin
  if not coalesce(p_dry_run, false) then
    if p_kind = 'organization' then
      return public.upsert_organizations_from_clerk(p_rows);
    end if;
    return public.upsert_organization_memberships_from_clerk(p_rows);
  end if;
  begin
    if p_kind = 'organization' then
      v_outcomes := public.upsert_organizations_from_clerk(p_rows);
    else
      v_outcomes := public.upsert_organization_memberships_from_clerk(p_rows);
    end if;
    raise exception 'dry run' using errcode = 'CEDRY';
  exception when sqlstate 'CEDRY' then
    null;
  end;
  return v_outcomes;
end;
$$;

-- Applies the page of organizations or memberships (p_kind) listed at
-- p_offset: records their ids as seen and upserts them. A page applied again
-- (a retried step) is not counted again. Returns this call's counts.
create function public.reconcile_clerk_org_page(
  p_run_id uuid,
  p_kind text,
  p_offset integer,
  p_rows jsonb,
  p_dry_run boolean default false
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_first boolean;
  v_outcomes text[];
begin
  if p_kind is null or p_kind not in ('organization', 'membership') then
    raise exception 'Cannot reconcile a page of "%"', p_kind using errcode = '22023';
  end if;
  insert into public.clerk_sync_org_seen as s (run_id, kind, page_offset, ids)
  select p_run_id, p_kind, p_offset, coalesce(array_agg(r.id), '{}')
    from jsonb_to_recordset(p_rows) as r(id text)
  on conflict (run_id, kind, page_offset) do update
    -- A page read again may have shifted; keep every id either read saw.
    set ids = array(select distinct u from unnest(s.ids || excluded.ids) as u)
  returning xmax = 0 into v_first;

  v_outcomes := public.apply_clerk_org_rows(p_kind, p_rows, p_dry_run);
  if not v_first then
    return jsonb_build_object('listed', 0, 'inserted', 0, 'updated', 0, 'unchanged', 0);
  end if;
  return public.count_clerk_org_sync_outcomes(p_run_id, p_kind, v_outcomes);
end;
$$;

comment on function public.reconcile_clerk_org_page is
  'Applies one page of organizations or memberships of a reconcile run: records the ids as seen, upserts the rows (not in a dry run) and adds to the run''s counts.';

-- Records, once, the organizations (or live memberships) of p_kind this run
-- must confirm with Clerk: not tombstones, written before the run started,
-- and not listed by Clerk in it. Returns how many are left to confirm.
create function public.collect_absent_clerk_org_rows(p_run_id uuid, p_kind text)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_started timestamptz;
  v_count integer;
begin
  select r.started_at into v_started from public.clerk_sync_runs r where r.id = p_run_id;
  if p_kind = 'organization' then
    insert into public.clerk_sync_org_absent (run_id, kind, id)
    select p_run_id, p_kind, o.id
      from public.organizations o
     where o.deleted_at is null
       and o.created_at < v_started
       -- A hashed subplan: one pass over the table, whatever its size.
       and o.id not in (
         select unnest(s.ids) from public.clerk_sync_org_seen s
          where s.run_id = p_run_id and s.kind = p_kind)
    on conflict do nothing;
  else
    insert into public.clerk_sync_org_absent (run_id, kind, id, organization_id, user_id)
    select p_run_id, p_kind, m.id, m.organization_id, m.user_id
      from public.organization_memberships m
     where m.deleted_at is null
       and m.created_at < v_started
       and m.id not in (
         select unnest(s.ids) from public.clerk_sync_org_seen s
          where s.run_id = p_run_id and s.kind = p_kind)
    on conflict do nothing;
  end if;
  select count(*) into v_count
    from public.clerk_sync_org_absent a where a.run_id = p_run_id and a.kind = p_kind;
  return v_count;
end;
$$;

-- Up to p_limit organizations still to confirm with Clerk.
create function public.clerk_sync_absent_organizations(p_run_id uuid, p_limit integer)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(a.id), '{}')
    from (
      select a.id from public.clerk_sync_org_absent a
       where a.run_id = p_run_id and a.kind = 'organization'
       order by a.id
       limit p_limit
    ) a;
$$;

-- Up to p_orgs organizations with memberships still to confirm, each with
-- up to p_per_org of them: [{organization_id, memberships: [{id, user_id}]}].
create function public.clerk_sync_absent_memberships(
  p_run_id uuid,
  p_orgs integer,
  p_per_org integer
) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object('organization_id', g.organization_id,
                                               'memberships', g.memberships)), '[]')
    from (
      select o.organization_id,
             (select jsonb_agg(jsonb_build_object('id', x.id, 'user_id', x.user_id))
                from (
                  select a.id, a.user_id from public.clerk_sync_org_absent a
                   where a.run_id = p_run_id and a.kind = 'membership'
                     and a.organization_id = o.organization_id
                   order by a.id
                   limit p_per_org
                ) x) as memberships
        from (
          select distinct a.organization_id from public.clerk_sync_org_absent a
           where a.run_id = p_run_id and a.kind = 'membership'
           order by a.organization_id
           limit p_orgs
        ) o
    ) g;
$$;

-- Applies Clerk's answers for organizations a run did not list: p_found
-- (rows, as for a page) are upserted; p_gone (ids Clerk answered 404 for)
-- are tombstoned with their memberships. Only rows still to confirm are
-- counted, so a retried step counts nothing twice. In a dry run nothing is
-- written to the tables mirrored. Returns the counts.
create function public.resolve_absent_clerk_organizations(
  p_run_id uuid,
  p_found jsonb,
  p_gone jsonb,
  p_dry_run boolean default false
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_found jsonb;
  v_gone text[];
  v_counts jsonb;
  v_tombstoned integer := 0;
begin
  with resolved as (
    delete from public.clerk_sync_org_absent a
     where a.run_id = p_run_id and a.kind = 'organization'
       and a.id in (select r.id from jsonb_to_recordset(p_found) as r(id text))
    returning a.id
  )
  select coalesce(jsonb_agg(o), '[]') into v_found
    from jsonb_array_elements(p_found) as o
   where o ->> 'id' in (select id from resolved);
  v_counts := public.count_clerk_org_sync_outcomes(p_run_id, 'organization',
    coalesce(public.apply_clerk_org_rows('organization', v_found, p_dry_run), '{}'));

  with resolved as (
    delete from public.clerk_sync_org_absent a
     where a.run_id = p_run_id and a.kind = 'organization'
       and a.id in (select jsonb_array_elements_text(p_gone))
    returning a.id
  )
  select coalesce(array_agg(id), '{}') into v_gone from resolved;
  if coalesce(p_dry_run, false) then
    v_tombstoned := cardinality(v_gone);
  elsif cardinality(v_gone) > 0 then
    select count(*) into v_tombstoned
      from unnest(public.delete_organizations_from_clerk(to_jsonb(v_gone), now())) as o
     where o = 'deleted';
  end if;
  update public.clerk_sync_runs r
     set organizations_tombstoned = r.organizations_tombstoned + v_tombstoned
   where r.id = p_run_id;
  return v_counts || jsonb_build_object('tombstoned', v_tombstoned);
end;
$$;

-- Applies Clerk's answers for memberships a run did not list: p_found (rows
-- Clerk still has) are upserted; p_gone (membership ids the per-organization
-- check omitted) stop being live; p_gone_orgs (organizations Clerk answered
-- 404 for) are tombstoned, which ends their memberships. Returns the counts.
create function public.resolve_absent_clerk_memberships(
  p_run_id uuid,
  p_found jsonb,
  p_gone jsonb,
  p_gone_orgs jsonb,
  p_dry_run boolean default false
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_found jsonb;
  v_counts jsonb;
  v_gone text[];
  v_gone_orgs text[] := array(select jsonb_array_elements_text(coalesce(p_gone_orgs, '[]')));
  v_tombstoned integer := 0;
  v_orgs_tombstoned integer := 0;
begin
  with resolved as (
    delete from public.clerk_sync_org_absent a
     where a.run_id = p_run_id and a.kind = 'membership'
       and a.id in (select r.id from jsonb_to_recordset(p_found) as r(id text))
    returning a.id
  )
  select coalesce(jsonb_agg(m), '[]') into v_found
    from jsonb_array_elements(p_found) as m
   where m ->> 'id' in (select id from resolved);
  v_counts := public.count_clerk_org_sync_outcomes(p_run_id, 'membership',
    coalesce(public.apply_clerk_org_rows('membership', v_found, p_dry_run), '{}'));

  with resolved as (
    delete from public.clerk_sync_org_absent a
     where a.run_id = p_run_id and a.kind = 'membership'
       and (a.id in (select jsonb_array_elements_text(coalesce(p_gone, '[]')))
         or a.organization_id = any(v_gone_orgs))
    returning a.id
  )
  select coalesce(array_agg(id), '{}') into v_gone from resolved;

  if coalesce(p_dry_run, false) then
    v_tombstoned := cardinality(v_gone);
  else
    if cardinality(v_gone_orgs) > 0 then
      select count(*) into v_orgs_tombstoned
        from unnest(public.delete_organizations_from_clerk(to_jsonb(v_gone_orgs), now())) as o
       where o = 'deleted';
    end if;
    update public.organization_memberships m
       set deleted_at = now(), updated_at = now()
     where m.id = any(v_gone) and m.deleted_at is null;
    -- Live when collected, not live now: ended here or by their
    -- organization's tombstone.
    select count(*) into v_tombstoned
      from public.organization_memberships m
     where m.id = any(v_gone) and m.deleted_at is not null;
  end if;
  update public.clerk_sync_runs r
     set memberships_tombstoned = r.memberships_tombstoned + v_tombstoned,
         organizations_tombstoned = r.organizations_tombstoned + v_orgs_tombstoned
   where r.id = p_run_id;
  return v_counts || jsonb_build_object('tombstoned', v_tombstoned);
end;
$$;

-- A run starting drops what an unfinished run left (as for users), and a
-- run ending drops its own rows and reports the organization counts too.
create or replace function public.start_clerk_sync_run(
  p_inngest_run_id text,
  p_trigger text,
  p_dry_run boolean default false
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  select r.id into v_id from public.clerk_sync_runs r where r.inngest_run_id = p_inngest_run_id;
  if v_id is not null then
    return v_id;
  end if;
  update public.clerk_sync_runs
     set status = 'failed', finished_at = now(),
         error = 'Did not finish: a later run started'
   where status = 'running';
  delete from public.clerk_sync_seen;
  delete from public.clerk_sync_absent;
  delete from public.clerk_sync_org_seen;
  delete from public.clerk_sync_org_absent;
  insert into public.clerk_sync_runs (inngest_run_id, trigger, dry_run)
  values (p_inngest_run_id, p_trigger, coalesce(p_dry_run, false))
  returning id into v_id;
  return v_id;
end;
$$;

create or replace function public.finish_clerk_sync_run(
  p_run_id uuid,
  p_status text,
  p_error text default null
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run public.clerk_sync_runs;
begin
  if p_status not in ('succeeded', 'failed') then
    raise exception 'Cannot finish run "%": status must be succeeded or failed', p_run_id
      using errcode = '22023';
  end if;
  update public.clerk_sync_runs r
     set status = case when r.status = 'running' then p_status else r.status end,
         finished_at = coalesce(r.finished_at, now()),
         error = case when r.status = 'running' then p_error else r.error end
   where r.id = p_run_id
  returning * into v_run;
  delete from public.clerk_sync_seen s where s.run_id = p_run_id;
  delete from public.clerk_sync_absent a where a.run_id = p_run_id;
  delete from public.clerk_sync_org_seen s where s.run_id = p_run_id;
  delete from public.clerk_sync_org_absent a where a.run_id = p_run_id;
  return jsonb_build_object(
    'status', v_run.status, 'dryRun', v_run.dry_run, 'listed', v_run.listed,
    'inserted', v_run.inserted, 'updated', v_run.updated, 'unchanged', v_run.unchanged,
    'tombstoned', v_run.tombstoned,
    'organizations', jsonb_build_object(
      'listed', v_run.organizations_listed, 'inserted', v_run.organizations_inserted,
      'updated', v_run.organizations_updated, 'unchanged', v_run.organizations_unchanged,
      'tombstoned', v_run.organizations_tombstoned),
    'memberships', jsonb_build_object(
      'listed', v_run.memberships_listed, 'inserted', v_run.memberships_inserted,
      'updated', v_run.memberships_updated, 'unchanged', v_run.memberships_unchanged,
      'tombstoned', v_run.memberships_tombstoned));
end;
$$;

revoke all on function public.count_clerk_org_sync_outcomes(uuid, text, text[]) from public, anon, authenticated;
revoke all on function public.apply_clerk_org_rows(text, jsonb, boolean) from public, anon, authenticated;
revoke all on function public.reconcile_clerk_org_page(uuid, text, integer, jsonb, boolean) from public, anon, authenticated;
revoke all on function public.collect_absent_clerk_org_rows(uuid, text) from public, anon, authenticated;
revoke all on function public.clerk_sync_absent_organizations(uuid, integer) from public, anon, authenticated;
revoke all on function public.clerk_sync_absent_memberships(uuid, integer, integer) from public, anon, authenticated;
revoke all on function public.resolve_absent_clerk_organizations(uuid, jsonb, jsonb, boolean) from public, anon, authenticated;
revoke all on function public.resolve_absent_clerk_memberships(uuid, jsonb, jsonb, jsonb, boolean) from public, anon, authenticated;
grant execute on function public.count_clerk_org_sync_outcomes(uuid, text, text[]) to service_role;
grant execute on function public.apply_clerk_org_rows(text, jsonb, boolean) to service_role;
grant execute on function public.reconcile_clerk_org_page(uuid, text, integer, jsonb, boolean) to service_role;
grant execute on function public.collect_absent_clerk_org_rows(uuid, text) to service_role;
grant execute on function public.clerk_sync_absent_organizations(uuid, integer) to service_role;
grant execute on function public.clerk_sync_absent_memberships(uuid, integer, integer) to service_role;
grant execute on function public.resolve_absent_clerk_organizations(uuid, jsonb, jsonb, boolean) to service_role;
grant execute on function public.resolve_absent_clerk_memberships(uuid, jsonb, jsonb, jsonb, boolean) to service_role;

insert into public.clerk_events_migrations (version) values ('20261202100000_organizations')
  on conflict do nothing;
