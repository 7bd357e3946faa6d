-- POST /clerk-events/users/me/sync: a signed-in user's app makes their own
-- row exist before the user.created webhook lands.
--
-- The route answers from the database, without calling Clerk's Backend API,
-- while the row was "synced recently": written from Clerk data (by a webhook
-- or by this route: updated_at) or confirmed against the Backend API by this
-- route (clerk_checked_at) within the route's freshness window. A page reload
-- then costs no Backend API request.

alter table public.users add column clerk_checked_at timestamptz;

comment on column public.users.clerk_checked_at is
  'When POST /clerk-events/users/me/sync last read this user from Clerk''s Backend API and found nothing newer to write (a write sets updated_at instead). Null if it never did.';

-- The row as the route answers it.
create function public.user_sync_json(u public.users)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', u.id,
    'email', u.email,
    'first_name', u.first_name,
    'last_name', u.last_name,
    'username', u.username,
    'image_url', u.image_url,
    'clerk_updated_at', u.clerk_updated_at
  );
$$;

comment on function public.user_sync_json is
  'The public.users columns that POST /clerk-events/users/me/sync answers with.';

-- Null when there is no row; otherwise the row, whether it is a tombstone,
-- and whether it was synced within the last p_fresh_seconds.
create function public.user_for_me_sync(p_id text, p_fresh_seconds integer)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'user', public.user_sync_json(u),
    'deleted', u.deleted_at is not null,
    'fresh', u.deleted_at is null
      and greatest(u.updated_at, u.clerk_checked_at)
        > now() - make_interval(secs => greatest(p_fresh_seconds, 0))
  )
  from public.users u
  where u.id = p_id;
$$;

comment on function public.user_for_me_sync is
  'Reads a user for POST /clerk-events/users/me/sync: {user, deleted, fresh}, or null when there is no row.';

-- Applies a user read from the Backend API with upsert_user_from_clerk (the
-- same newest-wins and never-resurrect rules as the webhooks), records that
-- the user was checked when nothing was written, and returns {outcome, user}. The outcome is
-- upsert_user_from_clerk's, except that a version equal to the stored one is
-- 'unchanged' rather than 'stale'; 'deleted' for a tombstone (user is null).
create function public.sync_user_from_clerk_api(
  p_id text,
  p_email text,
  p_first_name text,
  p_last_name text,
  p_username text,
  p_image_url text,
  p_clerk_created_at timestamptz,
  p_clerk_updated_at timestamptz
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
  v_user public.users;
begin
  v_outcome := public.upsert_user_from_clerk(
    p_id, p_email, p_first_name, p_last_name, p_username, p_image_url,
    p_clerk_created_at, p_clerk_updated_at
  );
  if v_outcome in ('inserted', 'updated') then
    -- updated_at was just set: the row is fresh without a second write.
    select * into v_user from public.users u where u.id = p_id and u.deleted_at is null;
  else
    update public.users u
       set clerk_checked_at = now()
     where u.id = p_id and u.deleted_at is null
    returning u.* into v_user;
  end if;

  if v_user.id is null then
    return jsonb_build_object('outcome', 'deleted', 'user', null);
  end if;
  if v_outcome = 'stale' and v_user.clerk_updated_at = p_clerk_updated_at then
    v_outcome := 'unchanged';
  end if;
  return jsonb_build_object('outcome', v_outcome, 'user', public.user_sync_json(v_user));
end;
$$;

comment on function public.sync_user_from_clerk_api is
  'Applies a user read from Clerk''s Backend API through upsert_user_from_clerk and stamps clerk_checked_at. Returns {outcome, user}; outcome is inserted, updated, unchanged, stale or deleted.';

revoke all on function public.user_sync_json(public.users) from public, anon, authenticated;
revoke all on function public.user_for_me_sync(text, integer) from public, anon, authenticated;
revoke all on function public.sync_user_from_clerk_api(text, text, text, text, text, text, timestamptz, timestamptz) from public, anon, authenticated;
grant execute on function public.user_sync_json(public.users) to service_role;
grant execute on function public.user_for_me_sync(text, integer) to service_role;
grant execute on function public.sync_user_from_clerk_api(text, text, text, text, text, text, timestamptz, timestamptz) to service_role;
