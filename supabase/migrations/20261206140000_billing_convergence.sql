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
                      max(s.clerk_updated_at) as version
                 from public.billing_subscriptions s
                group by 1) s on s.payer = p.payer
   where s.payer is null or s.version < p.newest
  on conflict do nothing;
  select count(*) into v_count from public.clerk_sync_billing_absent a where a.run_id = p_run_id;
  return v_count;
end;
$$;

comment on function public.collect_absent_clerk_billing_payers(uuid) is
  'Records the payers a reconcile run asks Clerk for their subscription: items that could still grant a plan but were not listed, or a subscription missing or older than their newest item. Returns how many are left to ask.';

revoke all on function public.collect_absent_clerk_billing_payers(uuid) from public, anon, authenticated;
grant execute on function public.collect_absent_clerk_billing_payers(uuid) to service_role;

insert into public.clerk_events_migrations (version) values ('20261206140000_billing_convergence')
  on conflict do nothing;
