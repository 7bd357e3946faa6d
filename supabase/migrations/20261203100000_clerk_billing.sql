-- Clerk Billing mirrored for plan checks in SQL (docs/clerk-billing.md).
--
-- public.billing_subscriptions, public.billing_subscription_items and
-- public.billing_payment_attempts hold Clerk Billing's subscriptions, plan
-- items and payment attempts, one row per Clerk id, written only by the
-- clerk-events edge function through the set-based functions below.
--
-- Ordering rules, the same for the three tables:
-- - The newest Clerk updated_at wins, whatever order the events arrive in
--   (clerk_updated_at; an item without updated_at is given the event's ts).
-- - Two deliveries of the same version are merged column by column, keeping
--   the greater value where they differ: a subscription event embeds the
--   same items that their own events carry, and Clerk's clock counts in
--   milliseconds. The merge is commutative, so no order of arrival gives
--   another row; a replay changes nothing (not even updated_at).
-- - Exactly one payer column is set: payer_user_id for a user, or
--   payer_organization_id for an organization. A payer's email, names and
--   image are never stored.
-- - Statuses are stored in snake_case: Clerk's pastDue is past_due.
-- - A deleted user or organization keeps its billing rows (financial
--   records): nothing here looks at public.users or public.organizations'
--   tombstones, except the read policy, which needs a live membership.
--
-- Row level security: a signed-in user reads the rows whose payer is them,
-- or an organization they are a live member of (public.is_org_member). Only
-- the service role writes. public.has_plan(slug) and
-- public.payer_has_plan(payer, slug) answer "is this payer on that plan
-- now?" for the app's own policies and server code.

create table public.billing_subscriptions (
  id text primary key,
  payer_user_id text,
  payer_organization_id text,
  status text not null,
  active_at timestamptz,
  past_due_at timestamptz,
  clerk_updated_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint billing_subscriptions_one_payer check (
    num_nonnulls(payer_user_id, payer_organization_id) = 1
    and coalesce(payer_user_id, payer_organization_id) <> ''
  ),
  constraint billing_subscriptions_status_snake_case check (status ~ '^[a-z][a-z_]*$')
);

comment on table public.billing_subscriptions is
  'Clerk Billing subscriptions (one per user or organization payer), mirrored by the clerk-events edge function. Newest clerk_updated_at wins.';
comment on column public.billing_subscriptions.id is 'Clerk subscription id (csub_...).';
comment on column public.billing_subscriptions.payer_user_id is 'The Clerk user id of a user payer; null for an organization payer.';
comment on column public.billing_subscriptions.payer_organization_id is 'The Clerk organization id of an organization payer; null for a user payer.';
comment on column public.billing_subscriptions.status is 'active, past_due, canceled, ended, abandoned, incomplete (snake_case: Clerk''s pastDue is past_due).';
comment on column public.billing_subscriptions.clerk_updated_at is 'Clerk''s updated_at of the newest version applied.';

create table public.billing_subscription_items (
  id text primary key,
  payer_user_id text,
  payer_organization_id text,
  plan_id text,
  plan_slug text,
  plan_period text,
  status text not null,
  is_free_trial boolean not null default false,
  period_start timestamptz,
  period_end timestamptz,
  canceled_at timestamptz,
  clerk_updated_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint billing_subscription_items_one_payer check (
    num_nonnulls(payer_user_id, payer_organization_id) = 1
    and coalesce(payer_user_id, payer_organization_id) <> ''
  ),
  constraint billing_subscription_items_status_snake_case check (status ~ '^[a-z][a-z_]*$')
);

comment on table public.billing_subscription_items is
  'Clerk Billing subscription items: one per payer and plan period (the default free plan''s item keeps its id). Newest clerk_updated_at wins. public.has_plan reads it.';
comment on column public.billing_subscription_items.id is 'Clerk subscription item id (csub_item_...).';
comment on column public.billing_subscription_items.plan_slug is 'The plan''s slug, as has_plan(slug) matches it.';
comment on column public.billing_subscription_items.plan_period is 'month or annual.';
comment on column public.billing_subscription_items.status is 'active, canceled, past_due, upcoming, ended, abandoned, incomplete or expired. Only active (until period_end, if any) and canceled (until period_end) grant the plan.';
comment on column public.billing_subscription_items.period_end is 'End of the current period; null for a free default plan. A canceled item keeps the plan until then.';
comment on column public.billing_subscription_items.clerk_updated_at is 'Clerk''s updated_at of the newest version applied (the event''s ts when the item carried none).';

create table public.billing_payment_attempts (
  id text primary key,
  payer_user_id text,
  payer_organization_id text,
  status text not null,
  charge_type text,
  amount bigint,
  currency text,
  failed_reason jsonb,
  clerk_updated_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint billing_payment_attempts_one_payer check (
    num_nonnulls(payer_user_id, payer_organization_id) = 1
    and coalesce(payer_user_id, payer_organization_id) <> ''
  ),
  constraint billing_payment_attempts_status_snake_case check (status ~ '^[a-z][a-z_]*$')
);

comment on table public.billing_payment_attempts is
  'Clerk Billing payment attempts (checkout and recurring charges). Newest clerk_updated_at wins.';
comment on column public.billing_payment_attempts.status is 'pending, paid or failed.';
comment on column public.billing_payment_attempts.charge_type is 'checkout or recurring.';
comment on column public.billing_payment_attempts.amount is 'totals.grand_total.amount: in the currency''s minor unit (cents for USD), tax included.';
comment on column public.billing_payment_attempts.currency is 'totals.grand_total.currency, such as USD.';
comment on column public.billing_payment_attempts.failed_reason is '{code, decline_code} of a failed attempt, as Clerk sent them.';

-- The plan checks look items up by payer and plan; the read policies by payer.
create index billing_subscription_items_user_plan_idx
  on public.billing_subscription_items (payer_user_id, plan_slug) where payer_user_id is not null;
create index billing_subscription_items_organization_plan_idx
  on public.billing_subscription_items (payer_organization_id, plan_slug)
  where payer_organization_id is not null;
create index billing_subscriptions_user_idx
  on public.billing_subscriptions (payer_user_id) where payer_user_id is not null;
create index billing_subscriptions_organization_idx
  on public.billing_subscriptions (payer_organization_id) where payer_organization_id is not null;
create index billing_payment_attempts_user_idx
  on public.billing_payment_attempts (payer_user_id) where payer_user_id is not null;
create index billing_payment_attempts_organization_idx
  on public.billing_payment_attempts (payer_organization_id)
  where payer_organization_id is not null;

alter table public.billing_subscriptions enable row level security;
alter table public.billing_subscription_items enable row level security;
alter table public.billing_payment_attempts enable row level security;

revoke all on table public.billing_subscriptions, public.billing_subscription_items,
  public.billing_payment_attempts from anon;
revoke insert, update, delete, truncate, references, trigger
  on table public.billing_subscriptions, public.billing_subscription_items,
  public.billing_payment_attempts from authenticated;
grant select on table public.billing_subscriptions, public.billing_subscription_items,
  public.billing_payment_attempts to authenticated;
grant all on table public.billing_subscriptions, public.billing_subscription_items,
  public.billing_payment_attempts to service_role;

-- The caller's own rows (the sub claim, evaluated once per query), or an
-- organization's while the caller is a live member of it.
create policy "Payers read their billing subscriptions"
  on public.billing_subscriptions
  for select
  to authenticated
  using (
    payer_user_id = (select auth.jwt() ->> 'sub')
    or (payer_organization_id is not null and public.is_org_member(payer_organization_id))
  );

create policy "Payers read their billing subscription items"
  on public.billing_subscription_items
  for select
  to authenticated
  using (
    payer_user_id = (select auth.jwt() ->> 'sub')
    or (payer_organization_id is not null and public.is_org_member(payer_organization_id))
  );

create policy "Payers read their billing payment attempts"
  on public.billing_payment_attempts
  for select
  to authenticated
  using (
    payer_user_id = (select auth.jwt() ->> 'sub')
    or (payer_organization_id is not null and public.is_org_member(payer_organization_id))
  );

-- The plan checks. Security definer, so that they read the items whatever
-- the caller may read: a policy on another table can ask them.

-- Whether the user or organization p_payer has an item on plan p_slug that
-- counts now: active with no period end or one in the future, or canceled
-- with a period end in the future (Clerk keeps the plan until the period
-- ends). past_due, ended, expired, abandoned, incomplete and upcoming do not.
create function public.payer_has_plan(payer text, slug text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select exists (
      select from public.billing_subscription_items i
       where (i.payer_user_id = payer_has_plan.payer or i.payer_organization_id = payer_has_plan.payer)
         and i.plan_slug = payer_has_plan.slug
         and (
           (i.status = 'active' and (i.period_end is null or i.period_end > now()))
           or (i.status = 'canceled' and i.period_end > now())
         )
    )
  ), false);
$$;

comment on function public.payer_has_plan(text, text) is
  'True when the user or organization has an item on the plan (by slug) that counts now: active (until period_end, if any), or canceled until period_end. False for an unknown payer.';

-- The same for the caller: the session token's active organization (v1
-- org_id, v2 o.id), or else the caller (sub). False without a sub.
create function public.has_plan(slug text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(public.payer_has_plan(
    coalesce(public.active_org_id(), nullif(auth.jwt() ->> 'sub', '')),
    has_plan.slug
  ), false);
$$;

comment on function public.has_plan(text) is
  'True when the caller''s active organization (from the session token, v1 or v2), or without one the caller, is on the plan now (see payer_has_plan). False without a sub.';

revoke all on function public.payer_has_plan(text, text) from public;
revoke all on function public.has_plan(text) from public;
grant execute on function public.payer_has_plan(text, text) to anon, authenticated, service_role;
grant execute on function public.has_plan(text) to anon, authenticated, service_role;

-- Applies Clerk subscriptions: p_rows is a JSON array of rows (id,
-- payer_user_id, payer_organization_id, status, active_at, past_due_at,
-- clerk_updated_at). Returns each input row's outcome, in input order:
-- inserted, updated, or null (nothing changed: an older version, or a
-- replay).
create function public.upsert_billing_subscriptions_from_clerk(p_rows jsonb)
returns text[]
language sql
security definer
set search_path = ''
as $$
  with input as (
    select distinct on (r.id) r.*
      from jsonb_to_recordset(p_rows) as r(
        id text, payer_user_id text, payer_organization_id text, status text,
        active_at timestamptz, past_due_at timestamptz, clerk_updated_at timestamptz)
     order by r.id, r.clerk_updated_at desc
  ), written as (
    insert into public.billing_subscriptions as s (
      id, payer_user_id, payer_organization_id, status, active_at, past_due_at, clerk_updated_at
    )
    select i.id, i.payer_user_id, i.payer_organization_id, i.status, i.active_at,
           i.past_due_at, i.clerk_updated_at
      from input i
     order by i.id -- one lock order for every writer
    on conflict (id) do update set
      payer_user_id = case when excluded.clerk_updated_at > s.clerk_updated_at
                           then excluded.payer_user_id else s.payer_user_id end,
      payer_organization_id = case when excluded.clerk_updated_at > s.clerk_updated_at
                                   then excluded.payer_organization_id
                                   else s.payer_organization_id end,
      status = case when excluded.clerk_updated_at > s.clerk_updated_at then excluded.status
                    else greatest(s.status, excluded.status) end,
      active_at = case when excluded.clerk_updated_at > s.clerk_updated_at then excluded.active_at
                       else greatest(s.active_at, excluded.active_at) end,
      past_due_at = case when excluded.clerk_updated_at > s.clerk_updated_at
                         then excluded.past_due_at
                         else greatest(s.past_due_at, excluded.past_due_at) end,
      clerk_updated_at = excluded.clerk_updated_at,
      updated_at = now()
    where excluded.clerk_updated_at > s.clerk_updated_at
       or (excluded.clerk_updated_at = s.clerk_updated_at
           and row(greatest(s.status, excluded.status),
                   greatest(s.active_at, excluded.active_at),
                   greatest(s.past_due_at, excluded.past_due_at))
               is distinct from row(s.status, s.active_at, s.past_due_at))
    returning s.id, case when s.xmax = 0 then 'inserted' else 'updated' end as outcome
  )
  select coalesce(array_agg(w.outcome order by r.n), '{}')
    from jsonb_array_elements(p_rows) with ordinality as r(value, n)
    left join written w on w.id = r.value ->> 'id';
$$;

-- Applies Clerk subscription items: p_rows is a JSON array of rows (id,
-- payer_user_id, payer_organization_id, plan_id, plan_slug, plan_period,
-- status, is_free_trial, period_start, period_end, canceled_at,
-- clerk_updated_at). Outcomes as for subscriptions.
create function public.upsert_billing_subscription_items_from_clerk(p_rows jsonb)
returns text[]
language sql
security definer
set search_path = ''
as $$
  with input as (
    select distinct on (r.id) r.*
      from jsonb_to_recordset(p_rows) as r(
        id text, payer_user_id text, payer_organization_id text, plan_id text, plan_slug text,
        plan_period text, status text, is_free_trial boolean, period_start timestamptz,
        period_end timestamptz, canceled_at timestamptz, clerk_updated_at timestamptz)
     order by r.id, r.clerk_updated_at desc
  ), written as (
    insert into public.billing_subscription_items as t (
      id, payer_user_id, payer_organization_id, plan_id, plan_slug, plan_period, status,
      is_free_trial, period_start, period_end, canceled_at, clerk_updated_at
    )
    select i.id, i.payer_user_id, i.payer_organization_id, i.plan_id, i.plan_slug,
           i.plan_period, i.status, coalesce(i.is_free_trial, false), i.period_start,
           i.period_end, i.canceled_at, i.clerk_updated_at
      from input i
     order by i.id
    on conflict (id) do update set
      payer_user_id = case when excluded.clerk_updated_at > t.clerk_updated_at
                           then excluded.payer_user_id else t.payer_user_id end,
      payer_organization_id = case when excluded.clerk_updated_at > t.clerk_updated_at
                                   then excluded.payer_organization_id
                                   else t.payer_organization_id end,
      plan_id = case when excluded.clerk_updated_at > t.clerk_updated_at then excluded.plan_id
                     else greatest(t.plan_id, excluded.plan_id) end,
      plan_slug = case when excluded.clerk_updated_at > t.clerk_updated_at then excluded.plan_slug
                       else greatest(t.plan_slug, excluded.plan_slug) end,
      plan_period = case when excluded.clerk_updated_at > t.clerk_updated_at
                         then excluded.plan_period
                         else greatest(t.plan_period, excluded.plan_period) end,
      status = case when excluded.clerk_updated_at > t.clerk_updated_at then excluded.status
                    else greatest(t.status, excluded.status) end,
      is_free_trial = case when excluded.clerk_updated_at > t.clerk_updated_at
                           then excluded.is_free_trial
                           else greatest(t.is_free_trial, excluded.is_free_trial) end,
      period_start = case when excluded.clerk_updated_at > t.clerk_updated_at
                          then excluded.period_start
                          else greatest(t.period_start, excluded.period_start) end,
      period_end = case when excluded.clerk_updated_at > t.clerk_updated_at
                        then excluded.period_end
                        else greatest(t.period_end, excluded.period_end) end,
      canceled_at = case when excluded.clerk_updated_at > t.clerk_updated_at
                         then excluded.canceled_at
                         else greatest(t.canceled_at, excluded.canceled_at) end,
      clerk_updated_at = excluded.clerk_updated_at,
      updated_at = now()
    where excluded.clerk_updated_at > t.clerk_updated_at
       or (excluded.clerk_updated_at = t.clerk_updated_at
           and row(greatest(t.plan_id, excluded.plan_id),
                   greatest(t.plan_slug, excluded.plan_slug),
                   greatest(t.plan_period, excluded.plan_period),
                   greatest(t.status, excluded.status),
                   greatest(t.is_free_trial, excluded.is_free_trial),
                   greatest(t.period_start, excluded.period_start),
                   greatest(t.period_end, excluded.period_end),
                   greatest(t.canceled_at, excluded.canceled_at))
               is distinct from row(t.plan_id, t.plan_slug, t.plan_period, t.status,
                                    t.is_free_trial, t.period_start, t.period_end,
                                    t.canceled_at))
    returning t.id, case when t.xmax = 0 then 'inserted' else 'updated' end as outcome
  )
  select coalesce(array_agg(w.outcome order by r.n), '{}')
    from jsonb_array_elements(p_rows) with ordinality as r(value, n)
    left join written w on w.id = r.value ->> 'id';
$$;

-- Applies Clerk payment attempts: p_rows is a JSON array of rows (id,
-- payer_user_id, payer_organization_id, status, charge_type, amount,
-- currency, failed_reason, clerk_updated_at). Outcomes as for subscriptions.
create function public.upsert_billing_payment_attempts_from_clerk(p_rows jsonb)
returns text[]
language sql
security definer
set search_path = ''
as $$
  with input as (
    select distinct on (r.id) r.*
      from jsonb_to_recordset(p_rows) as r(
        id text, payer_user_id text, payer_organization_id text, status text, charge_type text,
        amount bigint, currency text, failed_reason jsonb, clerk_updated_at timestamptz)
     order by r.id, r.clerk_updated_at desc
  ), written as (
    insert into public.billing_payment_attempts as p (
      id, payer_user_id, payer_organization_id, status, charge_type, amount, currency,
      failed_reason, clerk_updated_at
    )
    select i.id, i.payer_user_id, i.payer_organization_id, i.status, i.charge_type, i.amount,
           i.currency, i.failed_reason, i.clerk_updated_at
      from input i
     order by i.id
    on conflict (id) do update set
      payer_user_id = case when excluded.clerk_updated_at > p.clerk_updated_at
                           then excluded.payer_user_id else p.payer_user_id end,
      payer_organization_id = case when excluded.clerk_updated_at > p.clerk_updated_at
                                   then excluded.payer_organization_id
                                   else p.payer_organization_id end,
      status = case when excluded.clerk_updated_at > p.clerk_updated_at then excluded.status
                    else greatest(p.status, excluded.status) end,
      charge_type = case when excluded.clerk_updated_at > p.clerk_updated_at
                         then excluded.charge_type
                         else greatest(p.charge_type, excluded.charge_type) end,
      amount = case when excluded.clerk_updated_at > p.clerk_updated_at then excluded.amount
                    else greatest(p.amount, excluded.amount) end,
      currency = case when excluded.clerk_updated_at > p.clerk_updated_at then excluded.currency
                      else greatest(p.currency, excluded.currency) end,
      failed_reason = case when excluded.clerk_updated_at > p.clerk_updated_at
                           then excluded.failed_reason
                           else greatest(p.failed_reason, excluded.failed_reason) end,
      clerk_updated_at = excluded.clerk_updated_at,
      updated_at = now()
    where excluded.clerk_updated_at > p.clerk_updated_at
       or (excluded.clerk_updated_at = p.clerk_updated_at
           and row(greatest(p.status, excluded.status),
                   greatest(p.charge_type, excluded.charge_type),
                   greatest(p.amount, excluded.amount),
                   greatest(p.currency, excluded.currency),
                   greatest(p.failed_reason, excluded.failed_reason))
               is distinct from row(p.status, p.charge_type, p.amount, p.currency,
                                    p.failed_reason))
    returning p.id, case when p.xmax = 0 then 'inserted' else 'updated' end as outcome
  )
  select coalesce(array_agg(w.outcome order by r.n), '{}')
    from jsonb_array_elements(p_rows) with ordinality as r(value, n)
    left join written w on w.id = r.value ->> 'id';
$$;

-- What one Clerk billing event (or a page of the repair) does, in one call:
-- the subscriptions, then the items, then the payment attempts. Returns
-- {subscriptions, items, payment_attempts}, each the outcomes in input
-- order: inserted, updated or stale (an older version, or a replay).
create function public.apply_billing_from_clerk(
  p_subscriptions jsonb default '[]',
  p_items jsonb default '[]',
  p_payment_attempts jsonb default '[]'
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_subscriptions text[] := '{}';
  v_items text[] := '{}';
  v_payment_attempts text[] := '{}';
begin
  -- An event carries one kind or two: the others are not looked at.
  if jsonb_array_length(coalesce(p_subscriptions, '[]')) > 0 then
    v_subscriptions := public.upsert_billing_subscriptions_from_clerk(p_subscriptions);
  end if;
  if jsonb_array_length(coalesce(p_items, '[]')) > 0 then
    v_items := public.upsert_billing_subscription_items_from_clerk(p_items);
  end if;
  if jsonb_array_length(coalesce(p_payment_attempts, '[]')) > 0 then
    v_payment_attempts := public.upsert_billing_payment_attempts_from_clerk(p_payment_attempts);
  end if;
  -- A row that wrote nothing (an older version, or a replay) is stale.
  return jsonb_build_object(
    'subscriptions', to_jsonb(array(
      select coalesce(o, 'stale') from unnest(v_subscriptions) with ordinality u(o, n) order by n)),
    'items', to_jsonb(array(
      select coalesce(o, 'stale') from unnest(v_items) with ordinality u(o, n) order by n)),
    'payment_attempts', to_jsonb(array(
      select coalesce(o, 'stale') from unnest(v_payment_attempts) with ordinality u(o, n)
       order by n)));
end;
$$;

comment on function public.apply_billing_from_clerk(jsonb, jsonb, jsonb) is
  'Applies Clerk billing subscriptions, items and payment attempts in one call. Newest clerk_updated_at wins; equal versions merge; replays change nothing. Returns the outcomes (inserted, updated, stale) per input row.';

revoke all on function public.upsert_billing_subscriptions_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.upsert_billing_subscription_items_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.upsert_billing_payment_attempts_from_clerk(jsonb) from public, anon, authenticated;
revoke all on function public.apply_billing_from_clerk(jsonb, jsonb, jsonb) from public, anon, authenticated;
grant execute on function public.upsert_billing_subscriptions_from_clerk(jsonb) to service_role;
grant execute on function public.upsert_billing_subscription_items_from_clerk(jsonb) to service_role;
grant execute on function public.upsert_billing_payment_attempts_from_clerk(jsonb) to service_role;
grant execute on function public.apply_billing_from_clerk(jsonb, jsonb, jsonb) to service_role;

-- The repair: reconcile-users-with-clerk's billing part pages
-- GET /v1/billing/subscription_items (every item of the instance, newest
-- first) and applies each page with the rules above; the item ids go to
-- public.clerk_sync_billing_seen. Then the payers with items that could
-- still grant a plan (not ended, abandoned or expired), stored before the
-- run started, that the listing did not show go to
-- public.clerk_sync_billing_absent, and each is asked for its subscription
-- (GET /v1/users/{id}/billing/subscription, or the organization's). The
-- counts land in public.clerk_sync_runs (billing_items_*).

alter table public.clerk_sync_runs
  add column billing_items_listed integer not null default 0,
  add column billing_items_inserted integer not null default 0,
  add column billing_items_updated integer not null default 0,
  add column billing_items_unchanged integer not null default 0,
  add column billing_payers_confirmed integer not null default 0;

create table public.clerk_sync_billing_seen (
  run_id uuid not null references public.clerk_sync_runs (id) on delete cascade,
  page_offset integer not null,
  ids text[] not null,
  primary key (run_id, page_offset)
);

comment on table public.clerk_sync_billing_seen is
  'The subscription item ids each page of a reconcile run listed; emptied when the run ends.';

create table public.clerk_sync_billing_absent (
  run_id uuid not null references public.clerk_sync_runs (id) on delete cascade,
  payer text not null,
  primary key (run_id, payer)
);

comment on table public.clerk_sync_billing_absent is
  'Payers with items a reconcile run did not see in Clerk''s listing, still to ask Clerk for their subscription; emptied as they are.';

alter table public.clerk_sync_billing_seen enable row level security;
alter table public.clerk_sync_billing_absent enable row level security;
-- No policies: only the service role (which bypasses RLS) reads or writes.
revoke all on table public.clerk_sync_billing_seen, public.clerk_sync_billing_absent
  from anon, authenticated;
grant all on table public.clerk_sync_billing_seen, public.clerk_sync_billing_absent
  to service_role;

-- A run starting drops what unfinished runs left; a run ending drops its own.
create function public.clear_clerk_sync_billing_rows()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    delete from public.clerk_sync_billing_seen s where s.run_id <> new.id;
    delete from public.clerk_sync_billing_absent a where a.run_id <> new.id;
  elsif new.status <> 'running' then
    delete from public.clerk_sync_billing_seen s where s.run_id = new.id;
    delete from public.clerk_sync_billing_absent a where a.run_id = new.id;
  end if;
  return null;
end;
$$;

create trigger clerk_sync_runs_clear_billing_rows
  after insert or update of status on public.clerk_sync_runs
  for each row
  execute function public.clear_clerk_sync_billing_rows();

-- Applies p_items (rows, as for upsert_billing_subscription_items_from_clerk)
-- in a dry run's subtransaction, rolled back, or for real; returns the outcomes.
create function public.apply_clerk_billing_rows(
  p_subscriptions jsonb,
  p_items jsonb,
  p_dry_run boolean
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcomes jsonb;
begin
  if not coalesce(p_dry_run, false) then
    return public.apply_billing_from_clerk(p_subscriptions, p_items, '[]');
  end if;
  begin
    v_outcomes := public.apply_billing_from_clerk(p_subscriptions, p_items, '[]');
    raise exception 'dry run' using errcode = 'CEDRY';
  exception when sqlstate 'CEDRY' then
    null;
  end;
  return v_outcomes;
end;
$$;

-- Adds the item outcomes of an apply to the run's counts; returns them.
create function public.count_clerk_billing_outcomes(p_run_id uuid, p_outcomes jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_counts jsonb;
begin
  select jsonb_build_object(
           'listed', count(*),
           'inserted', count(*) filter (where e.o = 'inserted'),
           'updated', count(*) filter (where e.o = 'updated'),
           'unchanged', count(*) filter (where e.o not in ('inserted', 'updated')))
    into v_counts
    from jsonb_array_elements_text(coalesce(p_outcomes -> 'items', '[]')) as e(o);
  update public.clerk_sync_runs r
     set billing_items_listed = r.billing_items_listed + (v_counts ->> 'listed')::integer,
         billing_items_inserted = r.billing_items_inserted + (v_counts ->> 'inserted')::integer,
         billing_items_updated = r.billing_items_updated + (v_counts ->> 'updated')::integer,
         billing_items_unchanged = r.billing_items_unchanged + (v_counts ->> 'unchanged')::integer
   where r.id = p_run_id;
  return v_counts;
end;
$$;

-- Applies the page of items listed at p_offset: records their ids as seen
-- and upserts them. A page applied again (a retried step) is not counted
-- again. Returns this call's counts.
create function public.reconcile_clerk_billing_page(
  p_run_id uuid,
  p_offset integer,
  p_items jsonb,
  p_dry_run boolean default false
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_first boolean;
  v_outcomes jsonb;
begin
  insert into public.clerk_sync_billing_seen as s (run_id, page_offset, ids)
  select p_run_id, p_offset, coalesce(array_agg(r.id), '{}')
    from jsonb_to_recordset(coalesce(p_items, '[]')) as r(id text)
  on conflict (run_id, page_offset) do update
    -- A page read again may have shifted; keep every id either read saw.
    set ids = array(select distinct u from unnest(s.ids || excluded.ids) as u)
  returning xmax = 0 into v_first;

  v_outcomes := public.apply_clerk_billing_rows('[]', p_items, p_dry_run);
  if not v_first then
    return jsonb_build_object('listed', 0, 'inserted', 0, 'updated', 0, 'unchanged', 0);
  end if;
  return public.count_clerk_billing_outcomes(p_run_id, v_outcomes);
end;
$$;

-- Records, once, the payers this run must ask Clerk about: those with an
-- item that could still grant a plan (not ended, abandoned or expired),
-- written before the run started, that no page of the run listed. Returns
-- how many are left to ask.
create function public.collect_absent_clerk_billing_payers(p_run_id uuid)
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
  insert into public.clerk_sync_billing_absent (run_id, payer)
  select distinct p_run_id, coalesce(i.payer_user_id, i.payer_organization_id)
    from public.billing_subscription_items i
   where i.status not in ('ended', 'abandoned', 'expired')
     and i.created_at < v_started
     -- A hashed subplan: one pass over the table, whatever its size.
     and i.id not in (
       select unnest(s.ids) from public.clerk_sync_billing_seen s where s.run_id = p_run_id)
  on conflict do nothing;
  select count(*) into v_count from public.clerk_sync_billing_absent a where a.run_id = p_run_id;
  return v_count;
end;
$$;

-- Up to p_limit payers still to ask Clerk about.
create function public.clerk_sync_absent_billing_payers(p_run_id uuid, p_limit integer)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(a.payer), '{}')
    from (
      select a.payer from public.clerk_sync_billing_absent a
       where a.run_id = p_run_id
       order by a.payer
       limit p_limit
    ) a;
$$;

-- Applies Clerk's answers for the payers in p_payers: the subscriptions and
-- items it returned (none for a payer Clerk answered 404 for). Only payers
-- still to ask are counted, so a retried step counts nothing twice. Returns
-- the item counts and how many payers were confirmed.
create function public.resolve_absent_clerk_billing_payers(
  p_run_id uuid,
  p_payers jsonb,
  p_subscriptions jsonb,
  p_items jsonb,
  p_dry_run boolean default false
) returns jsonb
language plpgsql
security definer
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
  v_counts := public.count_clerk_billing_outcomes(p_run_id, v_outcomes);
  update public.clerk_sync_runs r
     set billing_payers_confirmed = r.billing_payers_confirmed + cardinality(v_payers)
   where r.id = p_run_id;
  return v_counts || jsonb_build_object('confirmed', cardinality(v_payers));
end;
$$;

revoke all on function public.clear_clerk_sync_billing_rows() from public, anon, authenticated;
revoke all on function public.apply_clerk_billing_rows(jsonb, jsonb, boolean) from public, anon, authenticated;
revoke all on function public.count_clerk_billing_outcomes(uuid, jsonb) from public, anon, authenticated;
revoke all on function public.reconcile_clerk_billing_page(uuid, integer, jsonb, boolean) from public, anon, authenticated;
revoke all on function public.collect_absent_clerk_billing_payers(uuid) from public, anon, authenticated;
revoke all on function public.clerk_sync_absent_billing_payers(uuid, integer) from public, anon, authenticated;
revoke all on function public.resolve_absent_clerk_billing_payers(uuid, jsonb, jsonb, jsonb, boolean) from public, anon, authenticated;
grant execute on function public.clear_clerk_sync_billing_rows() to service_role;
grant execute on function public.apply_clerk_billing_rows(jsonb, jsonb, boolean) to service_role;
grant execute on function public.count_clerk_billing_outcomes(uuid, jsonb) to service_role;
grant execute on function public.reconcile_clerk_billing_page(uuid, integer, jsonb, boolean) to service_role;
grant execute on function public.collect_absent_clerk_billing_payers(uuid) to service_role;
grant execute on function public.clerk_sync_absent_billing_payers(uuid, integer) to service_role;
grant execute on function public.resolve_absent_clerk_billing_payers(uuid, jsonb, jsonb, jsonb, boolean) to service_role;

insert into public.clerk_events_migrations (version) values ('20261203100000_clerk_billing')
  on conflict do nothing;
