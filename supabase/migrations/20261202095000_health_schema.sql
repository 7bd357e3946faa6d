-- Lets /clerk-events/health tell a database that is behind the code from one
-- that is ready: it returns the migrations this database recorded (see
-- 20261202090000_schema_version), and the code names each one it needs and
-- does not find there.
--
-- clerk_events_health() stays as it was, for functions deployed before this
-- migration: the database is migrated before the function is deployed.
create function public.clerk_events_applied_migrations()
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(version order by version), '{}'::text[])
    from public.clerk_events_migrations;
$$;

comment on function public.clerk_events_applied_migrations is
  'The clerk-events migrations applied to this database, oldest first. Called by GET /clerk-events/health.';

revoke all on function public.clerk_events_applied_migrations() from public, anon, authenticated;
grant execute on function public.clerk_events_applied_migrations() to service_role;

insert into public.clerk_events_migrations (version) values ('20261202095000_health_schema')
  on conflict do nothing;
