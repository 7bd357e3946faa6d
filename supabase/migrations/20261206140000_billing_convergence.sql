-- The Clerk Billing repair also repairs subscriptions (issue 28, found by
-- the convergence simulation, bug o): Clerk's Backend API lists items but
-- no subscriptions, so a lost subscription.* webhook (subscription.created,
-- subscription.pastDue, ...) left public.billing_subscriptions missing or
-- stale for good, while the listing repaired every item.
--
-- A subscription event accompanies every change of its items, so a payer
-- whose stored subscription is missing, or older than its newest stored
-- item (after the listing applied them), missed one: the reconcile asks it
-- for its subscription, as it asks the payers whose items it did not list.
-- Normally there are none; each costs one request.
--
-- Once per change of the items, not every night: Clerk may stamp a
-- subscription a moment before the items it changes in the same operation,
-- so "older than its newest item" can stay true after Clerk answered.
-- items_checked_at records the newest item version a run asked about; the
-- payer is asked again only when a newer item arrives.

alter table public.billing_subscriptions add column items_checked_at timestamptz;

comment on column public.billing_subscriptions.items_checked_at is
  'The newest clerk_updated_at of the payer''s items when the reconcile last asked Clerk for this subscription; it asks again only for a newer item.';

create or replace function public.collect_absent_clerk_billing_payers(p_run_id uuid)
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_started timestamptz;
  v_count integer;
begin
  select r.started_at into v_started from public.clerk_sync_runs r where r.id = p_run_id;
  insert into public.clerk_sync_billing_absent (run_id, payer)
  select distinct p_run_id, coalesce(i.payer_user_id, i.payer_organization_id)
    from public.billing_subscription_items i
   where i.status not in ('ended', 'abandoned', 'expired')
     and i.created_at < v_started
     -- A hashed subplan: one pass over the table, whatever its size.
     and i.id not in (
       select unnest(s.ids) from public.clerk_sync_billing_seen s where s.run_id = p_run_id)
  union
  -- Payers whose subscription the webhooks left behind their items.
  select p_run_id, p.payer
    from (select coalesce(i.payer_user_id, i.payer_organization_id) as payer,
                 max(i.clerk_updated_at) as newest
            from public.billing_subscription_items i
           group by 1) p
    left join (select coalesce(s.payer_user_id, s.payer_organization_id) as payer,
                      max(s.clerk_updated_at) as version,
                      max(s.items_checked_at) as checked
                 from public.billing_subscriptions s
                group by 1) s on s.payer = p.payer
   where s.payer is null
      or (s.version < p.newest and coalesce(s.checked, '-infinity'::timestamptz) < p.newest)
  on conflict do nothing;
  select count(*) into v_count from public.clerk_sync_billing_absent a where a.run_id = p_run_id;
  return v_count;
end;
$$;

comment on function public.collect_absent_clerk_billing_payers(uuid) is
  'Records the payers a reconcile run asks Clerk for their subscription: items that could still grant a plan but were not listed, or a subscription missing or older than their newest item. Returns how many are left to ask.';

revoke all on function public.collect_absent_clerk_billing_payers(uuid) from public, anon, authenticated;
grant execute on function public.collect_absent_clerk_billing_payers(uuid) to service_role;

-- As in 20261203100000_clerk_billing.sql, and then each payer's subscription
-- remembers the item version it was asked about.
create or replace function public.resolve_absent_clerk_billing_payers(
  p_run_id uuid,
  p_payers jsonb,
  p_subscriptions jsonb,
  p_items jsonb,
  p_dry_run boolean default false
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_payers text[];
  v_outcomes jsonb;
  v_counts jsonb;
begin
  with resolved as (
    delete from public.clerk_sync_billing_absent a
     where a.run_id = p_run_id
       and a.payer in (select jsonb_array_elements_text(coalesce(p_payers, '[]')))
    returning a.payer
  )
  select coalesce(array_agg(payer), '{}') into v_payers from resolved;
  v_outcomes := public.apply_clerk_billing_rows(
    (select coalesce(jsonb_agg(s.value), '[]')
       from jsonb_array_elements(coalesce(p_subscriptions, '[]')) as s(value)
      where coalesce(s.value ->> 'payer_user_id', s.value ->> 'payer_organization_id')
            = any(v_payers)),
    (select coalesce(jsonb_agg(i.value), '[]')
       from jsonb_array_elements(coalesce(p_items, '[]')) as i(value)
      where coalesce(i.value ->> 'payer_user_id', i.value ->> 'payer_organization_id')
            = any(v_payers)),
    p_dry_run);
  if not p_dry_run then
    update public.billing_subscriptions s
       set items_checked_at = (
         select max(i.clerk_updated_at) from public.billing_subscription_items i
          where coalesce(i.payer_user_id, i.payer_organization_id)
                = coalesce(s.payer_user_id, s.payer_organization_id))
     where coalesce(s.payer_user_id, s.payer_organization_id) = any(v_payers);
  end if;
  v_counts := public.count_clerk_billing_outcomes(p_run_id, v_outcomes);
  update public.clerk_sync_runs r
     set billing_payers_confirmed = r.billing_payers_confirmed + cardinality(v_payers)
   where r.id = p_run_id;
  return v_counts || jsonb_build_object('confirmed', cardinality(v_payers));
end;
$$;

revoke all on function public.resolve_absent_clerk_billing_payers(uuid, jsonb, jsonb, jsonb, boolean) from public, anon, authenticated;
grant execute on function public.resolve_absent_clerk_billing_payers(uuid, jsonb, jsonb, jsonb, boolean) to service_role;

insert into public.clerk_events_migrations (version) values ('20261206140000_billing_convergence')
  on conflict do nothing;
