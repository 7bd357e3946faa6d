-- Row level security without SECURITY DEFINER in the API's schema (issue 27,
-- item 5).
--
-- 1. The helpers that must read past row level security (the caller's
--    memberships, a payer's plan items) move to the schema clerk_events,
--    which the API does not expose (supabase/config.toml: [api] schemas =
--    ["public"]; keep it out of "Exposed schemas" in the dashboard).
--    PostgREST cannot call them, and a policy can.
-- 2. The public helpers keep their names and answers (they are the contract
--    the app's own policies use) and become SECURITY INVOKER: each asks the
--    private function, so calling one over the API reveals nothing the
--    caller could not ask before.
-- 3. The policies read the caller's organizations once per query, as an
--    initPlan: `organization_id in (select clerk_events.member_organization_ids())`,
--    not one function call per row.
-- 4. The writers are SECURITY INVOKER: only service_role may execute them,
--    and service_role has the table grants and bypasses row level security,
--    so running them as their owner only widened what a mistake could do.
--    Afterwards no function of this project in public is SECURITY DEFINER
--    (tests/private_helpers_test.ts keeps it so).

create schema if not exists clerk_events;
comment on schema clerk_events is
  'clerk-events: helpers that read past row level security for policies. Not exposed by the API; do not add it to the exposed schemas.';
revoke all on schema clerk_events from public;
grant usage on schema clerk_events to anon, authenticated, service_role;

-- The organizations the caller (sub claim) has a live membership in, less
-- the deleted ones (a membership that arrived before its organization's row
-- counts). Empty without a sub.
create function clerk_events.member_organization_ids()
returns setof text
language sql
stable
security definer
set search_path = ''
as $$
  select m.organization_id
    from public.organization_memberships m
   where m.user_id = (select auth.jwt() ->> 'sub')
     and m.deleted_at is null
     and not exists (
       select from public.organizations o
        where o.id = m.organization_id and o.deleted_at is not null
     );
$$;

-- The role of the caller's newest live membership in org_id, or null.
create function clerk_events.org_role(org_id text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select m.role
    from public.organization_memberships m
   where m.organization_id = org_role.org_id
     and m.user_id = (select auth.jwt() ->> 'sub')
     and m.deleted_at is null
     and not exists (
       select from public.organizations o
        where o.id = org_role.org_id and o.deleted_at is not null
     )
   order by m.clerk_created_at desc nulls last, m.clerk_updated_at desc nulls last
   limit 1;
$$;

-- Whether payer (a user or organization id) has an item on plan slug that
-- counts now (see public.payer_has_plan).
create function clerk_events.payer_has_plan(payer text, slug text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select from public.billing_subscription_items i
     where (i.payer_user_id = payer_has_plan.payer or i.payer_organization_id = payer_has_plan.payer)
       and i.plan_slug = payer_has_plan.slug
       and (
         (i.status = 'active' and (i.period_end is null or i.period_end > now()))
         or (i.status = 'canceled' and i.period_end > now())
       )
  );
$$;

revoke all on function clerk_events.member_organization_ids() from public;
revoke all on function clerk_events.org_role(text) from public;
revoke all on function clerk_events.payer_has_plan(text, text) from public;
grant execute on function clerk_events.member_organization_ids() to anon, authenticated, service_role;
grant execute on function clerk_events.org_role(text) to anon, authenticated, service_role;
grant execute on function clerk_events.payer_has_plan(text, text) to anon, authenticated, service_role;

-- The public helpers: same names, arguments and answers; SECURITY INVOKER.
create or replace function public.is_org_member(org_id text)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(is_org_member.org_id in (select clerk_events.member_organization_ids()), false);
$$;

create or replace function public.org_role(org_id text)
returns text
language sql
stable
security invoker
set search_path = ''
as $$
  select clerk_events.org_role(org_role.org_id);
$$;

create or replace function public.payer_has_plan(payer text, slug text)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(clerk_events.payer_has_plan(payer_has_plan.payer, payer_has_plan.slug), false);
$$;

-- active_org_id, active_org_role and has_plan read only the token (and the
-- functions above): they never needed to run as their owner.
alter function public.active_org_id() security invoker;
alter function public.active_org_role() security invoker;
alter function public.has_plan(text) security invoker;

-- The policies: the caller's organizations once per query.
drop policy "Members read their live organizations" on public.organizations;
create policy "Members read their live organizations"
  on public.organizations
  for select
  to authenticated
  using (deleted_at is null and id in (select clerk_events.member_organization_ids()));

drop policy "Members read the live memberships of their organizations"
  on public.organization_memberships;
create policy "Members read the live memberships of their organizations"
  on public.organization_memberships
  for select
  to authenticated
  using (
    deleted_at is null
    and organization_id in (select clerk_events.member_organization_ids())
  );

drop policy "Payers read their billing subscriptions" on public.billing_subscriptions;
create policy "Payers read their billing subscriptions"
  on public.billing_subscriptions
  for select
  to authenticated
  using (
    payer_user_id = (select auth.jwt() ->> 'sub')
    or payer_organization_id in (select clerk_events.member_organization_ids())
  );

drop policy "Payers read their billing subscription items" on public.billing_subscription_items;
create policy "Payers read their billing subscription items"
  on public.billing_subscription_items
  for select
  to authenticated
  using (
    payer_user_id = (select auth.jwt() ->> 'sub')
    or payer_organization_id in (select clerk_events.member_organization_ids())
  );

drop policy "Payers read their billing payment attempts" on public.billing_payment_attempts;
create policy "Payers read their billing payment attempts"
  on public.billing_payment_attempts
  for select
  to authenticated
  using (
    payer_user_id = (select auth.jwt() ->> 'sub')
    or payer_organization_id in (select clerk_events.member_organization_ids())
  );

-- The writers, and the readers only the service role calls: as the caller.
alter function public.upsert_user_from_clerk(text, text, text, text, text, text, timestamptz, timestamptz) security invoker;
alter function public.delete_user_from_clerk(text, timestamptz) security invoker;
alter function public.claim_email_delivery(text, text) security invoker;
alter function public.record_email_delivery(text, text, text, text, text) security invoker;
alter function public.onboarding_recipient(text) security invoker;
alter function public.clerk_events_health() security invoker;
alter function public.upsert_users_from_clerk(jsonb) security invoker;
alter function public.start_clerk_sync_run(text, text, boolean) security invoker;
alter function public.count_clerk_sync_outcomes(uuid, text[]) security invoker;
alter function public.apply_clerk_users(jsonb, boolean) security invoker;
alter function public.reconcile_clerk_users_page(uuid, integer, jsonb, boolean) security invoker;
alter function public.collect_absent_clerk_users(uuid) security invoker;
alter function public.clerk_sync_absent_users(uuid, integer) security invoker;
alter function public.resolve_absent_clerk_users(uuid, jsonb, jsonb, boolean) security invoker;
alter function public.finish_clerk_sync_run(uuid, text, text) security invoker;
alter function public.opt_out_of_marketing_email(text, text) security invoker;
alter function public.marketing_email_opted_out(text) security invoker;
alter function public.record_email_event(text, text, timestamptz, text) security invoker;
alter function public.user_for_me_sync(text, integer) security invoker;
alter function public.sync_user_from_clerk_api(text, text, text, text, text, text, timestamptz, timestamptz) security invoker;
alter function public.clerk_events_applied_migrations() security invoker;
alter function public.upsert_organizations_from_clerk(jsonb) security invoker;
alter function public.delete_organizations_from_clerk(jsonb, timestamptz) security invoker;
alter function public.upsert_organization_memberships_from_clerk(jsonb) security invoker;
alter function public.apply_organization_from_clerk(jsonb) security invoker;
alter function public.apply_organization_membership_from_clerk(jsonb) security invoker;
alter function public.end_memberships_of_deleted_user() security invoker;
alter function public.sync_user_memberships_from_clerk_api(text, jsonb, jsonb, timestamptz) security invoker;
alter function public.user_live_memberships(text) security invoker;
alter function public.count_clerk_org_sync_outcomes(uuid, text, text[]) security invoker;
alter function public.apply_clerk_org_rows(text, jsonb, boolean) security invoker;
alter function public.reconcile_clerk_org_page(uuid, text, integer, jsonb, boolean) security invoker;
alter function public.collect_absent_clerk_org_rows(uuid, text) security invoker;
alter function public.clerk_sync_absent_organizations(uuid, integer) security invoker;
alter function public.clerk_sync_absent_memberships(uuid, integer, integer) security invoker;
alter function public.resolve_absent_clerk_organizations(uuid, jsonb, jsonb, boolean) security invoker;
alter function public.resolve_absent_clerk_memberships(uuid, jsonb, jsonb, jsonb, boolean) security invoker;
alter function public.billing_customer_state(text) security invoker;
alter function public.record_stripe_customer(text, text, timestamptz) security invoker;
alter function public.record_stripe_trial(text, text, timestamptz) security invoker;
alter function public.record_stripe_customer_version(text, timestamptz) security invoker;
alter function public.tombstone_billing_customer(text, timestamptz) security invoker;
alter function public.upsert_billing_subscriptions_from_clerk(jsonb) security invoker;
alter function public.upsert_billing_subscription_items_from_clerk(jsonb) security invoker;
alter function public.upsert_billing_payment_attempts_from_clerk(jsonb) security invoker;
alter function public.apply_billing_from_clerk(jsonb, jsonb, jsonb) security invoker;
alter function public.clear_clerk_sync_billing_rows() security invoker;
alter function public.apply_clerk_billing_rows(jsonb, jsonb, boolean) security invoker;
alter function public.count_clerk_billing_outcomes(uuid, jsonb) security invoker;
alter function public.reconcile_clerk_billing_page(uuid, integer, jsonb, boolean) security invoker;
alter function public.collect_absent_clerk_billing_payers(uuid) security invoker;
alter function public.clerk_sync_absent_billing_payers(uuid, integer) security invoker;
alter function public.resolve_absent_clerk_billing_payers(uuid, jsonb, jsonb, jsonb, boolean) security invoker;
alter function public.record_auth_email(text, text, text, text, text, text) security invoker;
alter function public.auth_email_status(text) security invoker;

insert into public.clerk_events_migrations (version) values ('20261206130000_private_helpers')
  on conflict do nothing;
