-- Memberships converge under any history (issue 27, bugs e and f).
--
-- e. A membership ended only because a list of Clerk's did not show it
--    (/users/me/sync's list of the user's memberships, or the reconcile's
--    confirmation) is marked ended_by_absence: Clerk's lists can lag
--    behind a new membership, so a later listing that shows it live
--    revives it. A deletion Clerk sent, a deleted organization or user,
--    and a re-join stay final.
-- f. At most one live membership per (organization, user), whatever the
--    order or concurrency of the writers: upsert_organization_memberships_from_clerk
--    takes a transaction-scoped advisory lock per pair before it reads or
--    writes, and a deferred exclusion constraint makes a second live row
--    impossible (a writer that still meets it gets exclusion_violation,
--    which the app retries: see functions/database/rpc.ts).

alter table public.organization_memberships
  add column ended_by_absence boolean not null default false;

comment on column public.organization_memberships.ended_by_absence is
  'Ended because a list of Clerk''s did not show it (not by a deletion Clerk sent): a later listing that shows it live revives it.';

-- Before the index: where two live memberships of one pair exist already,
-- the older ones end (the user left and joined again).
update public.organization_memberships m
   set deleted_at = coalesce(n.clerk_created_at, now()), updated_at = now()
  from public.organization_memberships n
 where n.organization_id = m.organization_id and n.user_id = m.user_id
   and n.id <> m.id and m.deleted_at is null and n.deleted_at is null
   and (n.clerk_created_at, n.id) > (m.clerk_created_at, m.id);

-- Deferred to the commit: one call ends the older membership and writes
-- the newer in one statement, in whichever order.
alter table public.organization_memberships
  add constraint organization_memberships_one_live_per_pair
  exclude using btree (organization_id with =, user_id with =) where (deleted_at is null)
  deferrable initially deferred;

create or replace function public.upsert_organization_memberships_from_clerk(p_memberships jsonb)
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

  -- One writer per (organization, user) at a time, whichever path writes
  -- (a webhook, /users/me/sync, the reconcile): under READ COMMITTED two
  -- writers could each miss the other's new membership and both leave
  -- one live. Locks are taken in one global order, so writers of several
  -- pairs cannot deadlock. Every statement below runs after the locks, on
  -- a snapshot that sees what the previous holder committed.
  perform pg_advisory_xact_lock(k.key)
     from (
       select distinct hashtextextended(r.organization_id || ' ' || r.user_id, 27) as key
         from jsonb_to_recordset(p_memberships) as r(organization_id text, user_id text)
     ) k
    order by k.key;

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
      deleted_at = case when excluded.deleted_at is null then null
                        else coalesce(m.deleted_at, excluded.deleted_at) end,
      ended_by_absence = false,
      updated_at = now()
    where (m.deleted_at is null
        and (excluded.deleted_at is not null
          or m.clerk_updated_at is null or m.clerk_updated_at < excluded.clerk_updated_at))
      -- Ended only because a list did not show it (lists lag): a listing
      -- that shows it live again revives it, unless it is over for good.
      or (m.ended_by_absence and excluded.deleted_at is null
        and m.clerk_updated_at <= excluded.clerk_updated_at)
      -- A deletion Clerk sent makes such an ending final.
      or (m.ended_by_absence and excluded.deleted_at is not null)
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

create or replace function public.sync_user_memberships_from_clerk_api(
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
  -- Not listed: ended, but revivable (the list may lag behind Clerk).
  update public.organization_memberships m
     set deleted_at = p_listed_at, ended_by_absence = true, updated_at = now()
   where m.user_id = p_user_id
     and m.deleted_at is null
     and m.clerk_created_at < p_listed_at
     and m.id not in (select r.id from jsonb_to_recordset(p_memberships) as r(id text));
  return public.user_live_memberships(p_user_id);
end;
$$;

create or replace function public.resolve_absent_clerk_memberships(
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
       set deleted_at = now(), ended_by_absence = true, updated_at = now()
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

insert into public.clerk_events_migrations (version) values ('20261206110000_memberships_convergence')
  on conflict do nothing;
