-- Lets /clerk-events/health check, with the service key, that the database
-- answers and the migrations are applied.
create function public.clerk_events_health()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select 'ok'::text
   where to_regclass('public.users') is not null
     and to_regclass('public.email_deliveries') is not null;
$$;

comment on function public.clerk_events_health is
  'Returns ok when the clerk-events tables exist. Called by GET /clerk-events/health.';

revoke all on function public.clerk_events_health() from public, anon, authenticated;
grant execute on function public.clerk_events_health() to service_role;
