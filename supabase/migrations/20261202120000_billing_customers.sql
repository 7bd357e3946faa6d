-- public.billing_customers: the Stripe customer and trial subscription that
-- start-stripe-trial created for each Clerk user, written only by the
-- clerk-events edge function through the functions below.
--
-- Ordering rules (see functions/billing/ARCHITECTURE.md):
-- - A row holds ids, never personal data: the address and name live in
--   public.users and at Stripe.
-- - The first Stripe ids recorded stay; a retry that learns the same ids
--   changes nothing.
-- - A deleted user's row is a tombstone (deleted_at set) that is never
--   restored. It keeps its Stripe ids, so that whoever finds both the
--   tombstone and a customer id deletes the customer at Stripe.
-- - clerk_updated_at is the newest Clerk version of the user that the Stripe
--   customer was given; an older one is never sent.

create table public.billing_customers (
  user_id text primary key,
  stripe_customer_id text unique,
  stripe_subscription_id text unique,
  trial_ends_at timestamptz,
  clerk_updated_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.billing_customers is
  'The Stripe customer and trial subscription of each Clerk user, written by the clerk-events edge function. Deleted users stay as tombstones that keep their Stripe ids.';
comment on column public.billing_customers.user_id is 'Clerk user id (user_...). Matches the sub claim of Clerk session tokens.';
comment on column public.billing_customers.stripe_customer_id is 'The Stripe customer (cus_...) created for the user. The first one recorded stays.';
comment on column public.billing_customers.stripe_subscription_id is 'The trial subscription (sub_...). Its later state is Stripe''s (or the Stripe Sync Engine''s), not mirrored here.';
comment on column public.billing_customers.trial_ends_at is 'When the trial ends, as Stripe answered (trial_end) when the subscription was created.';
comment on column public.billing_customers.clerk_updated_at is 'Clerk''s updated_at of the newest version of the user sent to the Stripe customer. Older versions are never sent.';
comment on column public.billing_customers.deleted_at is 'Null while the user exists. Set when user.deleted arrives; the Stripe customer is then deleted and the row stays.';
comment on column public.billing_customers.created_at is 'When this row was first written.';
comment on column public.billing_customers.updated_at is 'When this row was last changed.';

alter table public.billing_customers enable row level security;

create policy "Users can read their own billing customer"
  on public.billing_customers
  for select
  to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on table public.billing_customers from anon;
revoke insert, update, delete, truncate, references, trigger on table public.billing_customers from authenticated;
grant select on table public.billing_customers to authenticated;
grant all on table public.billing_customers to service_role;

-- What the Stripe workflows need to decide their next request, read in one
-- call: the recorded ids, whether the user is deleted (a billing tombstone,
-- or a tombstone in public.users), and the user's newest address and name.
create function public.billing_customer_state(p_user_id text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'stripe_customer_id', b.stripe_customer_id,
    'stripe_subscription_id', b.stripe_subscription_id,
    'trial_ends_at', b.trial_ends_at,
    'customer_version', b.clerk_updated_at,
    'deleted', b.deleted_at is not null or u.deleted_at is not null,
    'user', case when u.id is not null and u.deleted_at is null then jsonb_build_object(
      'email', u.email,
      'first_name', u.first_name,
      'last_name', u.last_name,
      'clerk_updated_at', u.clerk_updated_at
    ) end
  )
  from (select p_user_id as id) k
  left join public.billing_customers b on b.user_id = k.id
  left join public.users u on u.id = k.id;
$$;

comment on function public.billing_customer_state is
  'The recorded Stripe ids of a user, whether the user is deleted (billing or users tombstone), and their newest address and name. Read before every Stripe request.';

-- Records the customer Stripe created for the user, with the Clerk version it
-- was given. Returns 'recorded'; 'deleted' when the row is a tombstone (the
-- id is still recorded: the caller deletes the customer); 'duplicate' when
-- another customer is already recorded (the first stays: the caller deletes
-- the new one).
create function public.record_stripe_customer(
  p_user_id text,
  p_customer_id text,
  p_clerk_updated_at timestamptz
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.billing_customers;
begin
  if p_user_id is null or p_user_id = '' or p_customer_id is null or p_customer_id = '' then
    raise exception 'Cannot record Stripe customer: user id and customer id are required'
      using errcode = '22023';
  end if;

  insert into public.billing_customers as b (user_id, stripe_customer_id, clerk_updated_at)
  values (p_user_id, p_customer_id, p_clerk_updated_at)
  on conflict (user_id) do update set
    stripe_customer_id = coalesce(b.stripe_customer_id, excluded.stripe_customer_id),
    clerk_updated_at = case when b.stripe_customer_id is null
      then excluded.clerk_updated_at else b.clerk_updated_at end,
    updated_at = now()
  returning * into v_row;

  if v_row.stripe_customer_id <> p_customer_id then
    return 'duplicate';
  end if;
  return case when v_row.deleted_at is not null then 'deleted' else 'recorded' end;
end;
$$;

comment on function public.record_stripe_customer is
  'Records the Stripe customer created for a user; the first stays. Returns recorded, deleted (tombstone: delete the customer) or duplicate (another is recorded: delete this one).';

-- Records the trial subscription. Returns 'recorded', or 'deleted' for a
-- tombstone (the ids are still recorded).
create function public.record_stripe_trial(
  p_user_id text,
  p_subscription_id text,
  p_trial_ends_at timestamptz
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deleted_at timestamptz;
begin
  update public.billing_customers b set
    stripe_subscription_id = coalesce(b.stripe_subscription_id, p_subscription_id),
    trial_ends_at = case when b.stripe_subscription_id is null
      then p_trial_ends_at else b.trial_ends_at end,
    updated_at = now()
  where b.user_id = p_user_id and b.stripe_customer_id is not null
  returning b.deleted_at into v_deleted_at;

  if not found then
    raise exception 'Cannot record Stripe trial of user "%": no customer is recorded', p_user_id
      using errcode = '22023';
  end if;
  return case when v_deleted_at is not null then 'deleted' else 'recorded' end;
end;
$$;

comment on function public.record_stripe_trial is
  'Records the trial subscription of a user whose customer is recorded; the first stays. Returns recorded or deleted.';

-- Records that the Stripe customer was given the user's version of
-- p_clerk_updated_at. Returns 'updated', 'stale' (not newer than the one
-- recorded), 'deleted' (tombstone) or 'missing' (no customer recorded).
create function public.record_stripe_customer_version(
  p_user_id text,
  p_clerk_updated_at timestamptz
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
begin
  update public.billing_customers b set clerk_updated_at = p_clerk_updated_at, updated_at = now()
  where b.user_id = p_user_id
    and b.stripe_customer_id is not null
    and b.deleted_at is null
    and (b.clerk_updated_at is null or b.clerk_updated_at < p_clerk_updated_at)
  returning 'updated' into v_outcome;

  if v_outcome is null then
    select case
      when b.user_id is null or b.stripe_customer_id is null then 'missing'
      when b.deleted_at is not null then 'deleted'
      else 'stale' end
      into v_outcome
      from (select p_user_id as id) k
      left join public.billing_customers b on b.user_id = k.id;
  end if;
  return v_outcome;
end;
$$;

comment on function public.record_stripe_customer_version is
  'Records the newest Clerk version sent to the Stripe customer. Returns updated, stale, deleted or missing.';

-- Applies a user.deleted: keeps a tombstone (creating one for a user with no
-- row yet, so that a later user.created sends nothing to Stripe) and returns
-- the customer to delete at Stripe, if one is recorded.
create function public.tombstone_billing_customer(
  p_user_id text,
  p_deleted_at timestamptz default now()
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.billing_customers;
  v_was_deleted boolean;
begin
  if p_user_id is null or p_user_id = '' then
    raise exception 'Cannot tombstone billing customer: user id is required' using errcode = '22023';
  end if;

  select b.deleted_at is not null into v_was_deleted
    from public.billing_customers b where b.user_id = p_user_id;

  insert into public.billing_customers as b (user_id, deleted_at)
  values (p_user_id, coalesce(p_deleted_at, now()))
  on conflict (user_id) do update set
    deleted_at = coalesce(b.deleted_at, excluded.deleted_at),
    updated_at = case when b.deleted_at is null then now() else b.updated_at end
  returning * into v_row;

  return jsonb_build_object(
    'outcome', case when coalesce(v_was_deleted, false) then 'already_deleted' else 'deleted' end,
    'stripe_customer_id', v_row.stripe_customer_id
  );
end;
$$;

comment on function public.tombstone_billing_customer is
  'Applies a Clerk user.deleted to billing: keeps a tombstone and returns {outcome: deleted|already_deleted, stripe_customer_id} for the customer to delete at Stripe.';

-- Supabase grants EXECUTE on new functions to anon and authenticated by
-- default. These are for the service role only.
revoke all on function public.billing_customer_state(text) from public, anon, authenticated;
revoke all on function public.record_stripe_customer(text, text, timestamptz) from public, anon, authenticated;
revoke all on function public.record_stripe_trial(text, text, timestamptz) from public, anon, authenticated;
revoke all on function public.record_stripe_customer_version(text, timestamptz) from public, anon, authenticated;
revoke all on function public.tombstone_billing_customer(text, timestamptz) from public, anon, authenticated;
grant execute on function public.billing_customer_state(text) to service_role;
grant execute on function public.record_stripe_customer(text, text, timestamptz) to service_role;
grant execute on function public.record_stripe_trial(text, text, timestamptz) to service_role;
grant execute on function public.record_stripe_customer_version(text, timestamptz) to service_role;
grant execute on function public.tombstone_billing_customer(text, timestamptz) to service_role;

insert into public.clerk_events_migrations (version) values ('20261202120000_billing_customers')
  on conflict do nothing;
