-- Which migrations this database has, so that /clerk-events/health can tell
-- a database that is behind the code apart from one that is ready.
--
-- Every migration from this one on ends by recording its own name here (the
-- file name without `.sql`); the code lists the names it needs in
-- functions/database/migrations.ts, and /health names each one missing.
create table public.clerk_events_migrations (
  version text primary key,
  applied_at timestamptz not null default now()
);

comment on table public.clerk_events_migrations is
  'The clerk-events migrations applied to this database; read by GET /clerk-events/health.';

alter table public.clerk_events_migrations enable row level security;
revoke all on table public.clerk_events_migrations from public, anon, authenticated;
grant select, insert on table public.clerk_events_migrations to service_role;

-- The migrations before this one recorded nothing; they are applied, since
-- migrations run in order.
insert into public.clerk_events_migrations (version) values
  ('20261129170000_users'),
  ('20261129180000_email_deliveries'),
  ('20261129190000_health_check'),
  ('20261130100000_clerk_sync_runs'),
  ('20261130110000_email_preferences'),
  ('20261130120000_users_me_sync'),
  ('20261202090000_schema_version')
on conflict do nothing;
