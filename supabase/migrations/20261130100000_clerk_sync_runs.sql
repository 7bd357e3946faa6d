-- Reconciliation with Clerk's Backend API (reconcile-users-with-clerk).
--
-- public.clerk_sync_runs records every run. public.clerk_sync_seen holds the
-- ids a run has listed, one row per page, so that the set of "users Clerk
-- still has" lives in the database rather than in Inngest's step state (4 MB
-- per step, 32 MB per run); public.clerk_sync_absent, the users the run must
-- confirm with Clerk before erasing them. The users themselves are written
-- with the rules of the webhook path: public.upsert_users_from_clerk below
-- applies a page in one statement, as public.upsert_user_from_clerk applies
-- one user (that one stays a plain INSERT ... ON CONFLICT: going through the
-- JSON of this one made the webhook's write four times as slow), and
-- tests/users_database_test.ts holds the two to the same outcomes; users
-- Clerk no longer has go through public.delete_user_from_clerk.

create table public.clerk_sync_runs (
  id uuid primary key default gen_random_uuid(),
  inngest_run_id text not null unique,
  trigger text not null check (trigger in ('cron', 'event')),
  dry_run boolean not null default false,
  status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  listed integer not null default 0,
  inserted integer not null default 0,
  updated integer not null default 0,
  unchanged integer not null default 0,
  tombstoned integer not null default 0,
  error text
);

comment on table public.clerk_sync_runs is
  'One row per run of reconcile-users-with-clerk. Counts are of distinct users; in a dry run they say what would have changed.';
comment on column public.clerk_sync_runs.inngest_run_id is 'The Inngest run id, to find the run in the Inngest dashboard.';
comment on column public.clerk_sync_runs.trigger is 'cron (CLERK_RECONCILE_CRON) or event (clerk-events/reconcile.requested).';
comment on column public.clerk_sync_runs.dry_run is 'True when the run only counted what it would change.';
comment on column public.clerk_sync_runs.listed is 'Users Clerk listed.';
comment on column public.clerk_sync_runs.inserted is 'Users missing from public.users, now added.';
comment on column public.clerk_sync_runs.updated is 'Rows older than Clerk''s copy, now updated.';
comment on column public.clerk_sync_runs.unchanged is 'Rows as new as Clerk''s copy (or newer), and tombstones, which are never restored.';
comment on column public.clerk_sync_runs.tombstoned is 'Users Clerk confirmed deleted (404), now erased like user.deleted does.';
comment on column public.clerk_sync_runs.error is 'Why the run failed.';

create table public.clerk_sync_seen (
  run_id uuid not null references public.clerk_sync_runs (id) on delete cascade,
  page_offset integer not null,
  user_ids text[] not null,
  primary key (run_id, page_offset)
);

comment on table public.clerk_sync_seen is
  'The ids each page of a reconcile run listed; emptied when the run ends.';

create table public.clerk_sync_absent (
  run_id uuid not null references public.clerk_sync_runs (id) on delete cascade,
  user_id text not null,
  primary key (run_id, user_id)
);

comment on table public.clerk_sync_absent is
  'Users a reconcile run did not see in Clerk''s list, still to confirm with Clerk; emptied as they are confirmed.';

alter table public.clerk_sync_runs enable row level security;
alter table public.clerk_sync_seen enable row level security;
alter table public.clerk_sync_absent enable row level security;
-- No policies: only the service role (which bypasses RLS) reads or writes.
revoke all on table public.clerk_sync_runs, public.clerk_sync_seen, public.clerk_sync_absent
  from anon, authenticated;
grant all on table public.clerk_sync_runs, public.clerk_sync_seen, public.clerk_sync_absent
  to service_role;

-- Applies many Clerk users at once, with the rules of the webhook path: the
-- newest clerk_updated_at wins and a tombstone is never restored. p_users is
-- a JSON array of rows of public.users (id, email, first_name, last_name,
-- username, image_url, clerk_created_at, clerk_updated_at). Returns one row
-- per user written, with outcome inserted or updated; a user not returned
-- was not newer than its row (stale) or is a tombstone (deleted). Nothing
-- else is read, so the cost does not grow with the table.
create function public.upsert_users_from_clerk(p_users jsonb)
returns table (user_id text, outcome text)
language plpgsql
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
begin
  select r.id, r.clerk_updated_at into v_bad
    from jsonb_to_recordset(p_users) as r(id text, clerk_updated_at timestamptz)
   where r.id is null or r.id = '' or r.clerk_updated_at is null
   limit 1;
  if found and (v_bad.id is null or v_bad.id = '') then
    raise exception 'Cannot upsert user: id is required' using errcode = '22023';
  elsif found then
    raise exception 'Cannot upsert user "%": clerk_updated_at is required', v_bad.id
      using errcode = '22023';
  end if;

  return query
  with input as (
    -- One version per id (the newest): ON CONFLICT cannot touch a row twice.
    select distinct on (r.id) r.*
      from jsonb_to_recordset(p_users) as r(
        id text, email text, first_name text, last_name text, username text,
        image_url text, clerk_created_at timestamptz, clerk_updated_at timestamptz)
     order by r.id, r.clerk_updated_at desc
  ), written as (
    insert into public.users as u (
      id, email, first_name, last_name, username, image_url,
      clerk_created_at, clerk_updated_at
    )
    select i.id, i.email, i.first_name, i.last_name, i.username, i.image_url,
           i.clerk_created_at, i.clerk_updated_at
      from input i
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
    returning u.id, case when u.xmax = 0 then 'inserted' else 'updated' end as outcome
  )
  select w.id, w.outcome from written w;
end;
$$;

comment on function public.upsert_users_from_clerk is
  'Applies Clerk users in one statement. Newest clerk_updated_at wins; tombstones are never restored. Returns (user_id, outcome) for each user written, with outcome inserted or updated.';

-- Starts a run, or returns the one already started for this Inngest run (a
-- retried step). A run still marked running is one that never finished:
-- only one run goes at a time, so it is marked failed and its ids dropped.
create function public.start_clerk_sync_run(
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
  insert into public.clerk_sync_runs (inngest_run_id, trigger, dry_run)
  values (p_inngest_run_id, p_trigger, coalesce(p_dry_run, false))
  returning id into v_id;
  return v_id;
end;
$$;

comment on function public.start_clerk_sync_run is
  'Records the start of a reconcile run (idempotent per Inngest run id). Returns the run id.';

-- Adds counts to a run. p_outcomes holds the outcome of every user applied
-- (null: not newer than its row, or a tombstone).
create function public.count_clerk_sync_outcomes(
  p_run_id uuid,
  p_outcomes text[]
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_counts jsonb;
begin
  select jsonb_build_object(
           'listed', count(*),
           'inserted', count(*) filter (where o = 'inserted'),
           'updated', count(*) filter (where o = 'updated'),
           'unchanged', count(*) filter (where o is null))
    into v_counts
    from unnest(p_outcomes) as o;
  update public.clerk_sync_runs r
     set listed = r.listed + (v_counts ->> 'listed')::int,
         inserted = r.inserted + (v_counts ->> 'inserted')::int,
         updated = r.updated + (v_counts ->> 'updated')::int,
         unchanged = r.unchanged + (v_counts ->> 'unchanged')::int
   where r.id = p_run_id;
  return v_counts;
end;
$$;

-- Upserts users and returns each one's outcome (null when not written); in
-- a dry run the writes are rolled back and the outcomes kept.
create function public.apply_clerk_users(p_users jsonb, p_dry_run boolean)
returns text[]
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcomes text[];
begin
  begin
    with w as materialized (
      select o.user_id, o.outcome from public.upsert_users_from_clerk(p_users) as o
    )
    select array_agg(w.outcome)
      into v_outcomes
      from jsonb_to_recordset(p_users) as r(id text)
      left join w on w.user_id = r.id;
    if coalesce(p_dry_run, false) then
      -- Undo the writes; the outcomes stay in v_outcomes.
      raise exception 'dry run' using errcode = 'CEDRY';
    end if;
  exception when sqlstate 'CEDRY' then
    null;
  end;
  return v_outcomes;
end;
$$;

-- Applies the page of Clerk users listed at p_offset: records their ids as
-- seen and upserts them (in a dry run, computes the same outcomes and rolls
-- the writes back). A page applied again (a retried step) is not counted
-- again. Returns this call's counts.
create function public.reconcile_clerk_users_page(
  p_run_id uuid,
  p_offset integer,
  p_users jsonb,
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
  insert into public.clerk_sync_seen as s (run_id, page_offset, user_ids)
  select p_run_id, p_offset, coalesce(array_agg(r.id), '{}')
    from jsonb_to_recordset(p_users) as r(id text)
  on conflict (run_id, page_offset) do update
    -- A page read again may have shifted; keep every id either read saw.
    set user_ids = array(select distinct u from unnest(s.user_ids || excluded.user_ids) as u)
  returning xmax = 0 into v_first;

  v_outcomes := public.apply_clerk_users(p_users, p_dry_run);
  if not v_first then
    return jsonb_build_object('listed', 0, 'inserted', 0, 'updated', 0, 'unchanged', 0);
  end if;
  return public.count_clerk_sync_outcomes(p_run_id, v_outcomes);
end;
$$;

comment on function public.reconcile_clerk_users_page is
  'Applies one page of a reconcile run: records the ids as seen, upserts the users (not in a dry run) and adds to the run''s counts.';

-- Records, once, the users this run must confirm with Clerk: in
-- public.users, not a tombstone, written before the run started, and not
-- listed by Clerk in it. Returns how many.
create function public.collect_absent_clerk_users(p_run_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  insert into public.clerk_sync_absent (run_id, user_id)
  select p_run_id, u.id
    from public.users u
    join public.clerk_sync_runs r on r.id = p_run_id
   where u.deleted_at is null
     and u.created_at < r.started_at
     and u.id not in (
       select unnest(s.user_ids) from public.clerk_sync_seen s where s.run_id = p_run_id)
  on conflict do nothing;
  select count(*) into v_count from public.clerk_sync_absent a where a.run_id = p_run_id;
  return v_count;
end;
$$;

comment on function public.collect_absent_clerk_users is
  'Records the users a reconcile run did not see in Clerk''s list: candidates to confirm with Clerk before erasing.';

-- Up to p_limit users still to confirm with Clerk.
create function public.clerk_sync_absent_users(p_run_id uuid, p_limit integer)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(a.user_id), '{}')
    from (
      select a.user_id from public.clerk_sync_absent a
       where a.run_id = p_run_id
       order by a.user_id
       limit p_limit
    ) a;
$$;

-- Applies what Clerk answered for absent users: p_found (rows, as for a
-- page) are upserted; p_gone (a JSON array of ids Clerk answered 404 for)
-- are erased the way delete_user_from_clerk erases them. Both leave the
-- list of users to confirm; only users still on it are counted, so a
-- retried step counts nothing twice. In a dry run nothing is written to
-- public.users. Returns the counts.
create function public.resolve_absent_clerk_users(
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
  v_counts jsonb;
  v_id text;
  v_tombstoned integer := 0;
begin
  with resolved as (
    delete from public.clerk_sync_absent a
     where a.run_id = p_run_id
       and a.user_id in (select r.id from jsonb_to_recordset(p_found) as r(id text))
    returning a.user_id
  )
  select coalesce(jsonb_agg(u), '[]') into v_found
    from jsonb_array_elements(p_found) as u
   where u ->> 'id' in (select user_id from resolved);
  v_counts := public.count_clerk_sync_outcomes(
    p_run_id, coalesce(public.apply_clerk_users(v_found, p_dry_run), '{}'));

  for v_id in
    delete from public.clerk_sync_absent a
     where a.run_id = p_run_id
       and a.user_id in (select jsonb_array_elements_text(p_gone))
    returning a.user_id
  loop
    if p_dry_run or public.delete_user_from_clerk(v_id, now()) = 'deleted' then
      v_tombstoned := v_tombstoned + 1;
    end if;
  end loop;
  update public.clerk_sync_runs r set tombstoned = r.tombstoned + v_tombstoned
   where r.id = p_run_id;
  return v_counts || jsonb_build_object('tombstoned', v_tombstoned);
end;
$$;

comment on function public.resolve_absent_clerk_users is
  'Applies Clerk''s answers for users a reconcile run did not list: upserts those Clerk has, erases those it answered 404 for.';

-- Ends a run: succeeded, or failed with the reason. Drops the run's ids.
-- Returns the run's counts.
create function public.finish_clerk_sync_run(
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
  return jsonb_build_object(
    'status', v_run.status, 'dryRun', v_run.dry_run, 'listed', v_run.listed,
    'inserted', v_run.inserted, 'updated', v_run.updated, 'unchanged', v_run.unchanged,
    'tombstoned', v_run.tombstoned);
end;
$$;

comment on function public.finish_clerk_sync_run is
  'Records the end of a reconcile run and returns its counts.';

revoke all on function public.upsert_users_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.start_clerk_sync_run(text, text, boolean) from public, anon, authenticated;
revoke all on function public.count_clerk_sync_outcomes(uuid, text[]) from public, anon, authenticated;
revoke all on function public.apply_clerk_users(jsonb, boolean) from public, anon, authenticated;
revoke all on function public.reconcile_clerk_users_page(uuid, integer, jsonb, boolean) from public, anon, authenticated;
revoke all on function public.collect_absent_clerk_users(uuid) from public, anon, authenticated;
revoke all on function public.clerk_sync_absent_users(uuid, integer) from public, anon, authenticated;
revoke all on function public.resolve_absent_clerk_users(uuid, jsonb, jsonb, boolean) from public, anon, authenticated;
revoke all on function public.finish_clerk_sync_run(uuid, text, text) from public, anon, authenticated;
grant execute on function public.upsert_users_from_clerk(jsonb) to service_role;
grant execute on function public.start_clerk_sync_run(text, text, boolean) to service_role;
grant execute on function public.count_clerk_sync_outcomes(uuid, text[]) to service_role;
grant execute on function public.apply_clerk_users(jsonb, boolean) to service_role;
grant execute on function public.reconcile_clerk_users_page(uuid, integer, jsonb, boolean) to service_role;
grant execute on function public.collect_absent_clerk_users(uuid) to service_role;
grant execute on function public.clerk_sync_absent_users(uuid, integer) to service_role;
grant execute on function public.resolve_absent_clerk_users(uuid, jsonb, jsonb, boolean) to service_role;
grant execute on function public.finish_clerk_sync_run(uuid, text, text) to service_role;
