-- The product newsletter: consent, opt-outs and where the provider knows
-- each subscriber, in public.email_preferences.
--
-- A user joins only with consent (unsafe_metadata.newsletter === true on
-- the Clerk user). newsletter_consent keeps the last value seen, and
-- newsletter_consent_at the Clerk updated_at it came with, so that:
--   - an older event never overrides a newer one;
--   - a user who opted out stays out until a Clerk event shows the value
--     changed to true (from false or absent) after the opt-out: an update
--     still carrying the earlier true is not new consent.
-- newsletter_address is the address the provider knows the user by (null
-- while it knows nothing of them); it is erased when the user is deleted.
-- The MD5 that Mailchimp addresses members by is computed, never stored.
--
-- Our own opt-outs (one-click, the page, a withdrawal in Clerk) must reach
-- the provider: an opt-out recorded by a route sets
-- newsletter_unsubscribe_pending, which the workflow clears once the
-- provider confirmed it (an outbox: nothing is lost while the provider or
-- Inngest is down). Opt-outs that come from the provider (Mailchimp's
-- webhook, Resend's contact.updated) are already there and set nothing.

alter table public.email_preferences
  add column newsletter_opt_in_at timestamptz,
  add column newsletter_opt_out_at timestamptz,
  add column newsletter_source text
    constraint email_preferences_newsletter_source_check check (newsletter_source in (
      'clerk_metadata', 'one_click', 'page', 'mailchimp_unsubscribe', 'mailchimp_cleaned', 'resend'
    )),
  add column newsletter_consent boolean,
  add column newsletter_consent_at timestamptz,
  add column newsletter_address text,
  add column newsletter_unsubscribe_pending boolean not null default false,
  add column newsletter_erased_at timestamptz;

comment on column public.email_preferences.newsletter_opt_in_at is 'When the user last joined the newsletter (consent in Clerk).';
comment on column public.email_preferences.newsletter_opt_out_at is 'When the user left the newsletter; null while subscribed or never asked. They stay out until Clerk shows their consent changed to true after this.';
comment on column public.email_preferences.newsletter_source is 'Source of the last join or opt-out: clerk_metadata, one_click, page, mailchimp_unsubscribe, mailchimp_cleaned or resend.';
comment on column public.email_preferences.newsletter_consent is 'The last value of unsafe_metadata.newsletter === true seen on the Clerk user.';
comment on column public.email_preferences.newsletter_consent_at is 'The Clerk updated_at of the event that carried newsletter_consent; older events do not count.';
comment on column public.email_preferences.newsletter_address is 'The address the newsletter provider knows this user by; erased when the user is deleted.';
comment on column public.email_preferences.newsletter_unsubscribe_pending is 'An opt-out of ours not yet confirmed by the provider.';
comment on column public.email_preferences.newsletter_erased_at is 'When the Clerk user was deleted: nothing is sent to the provider for them again.';

create index email_preferences_newsletter_address_idx
  on public.email_preferences (lower(newsletter_address))
  where newsletter_address is not null;

create index email_preferences_newsletter_pending_idx
  on public.email_preferences (user_id)
  where newsletter_unsubscribe_pending;

-- What a Clerk user event asks of the provider, without writing anything:
-- {"action": "subscribe" | "move" | "unsubscribe" | "none", "address",
--  "previous_address", "reason", "planned_at"}. The workflow calls the
-- provider, then newsletter_commit with the same arguments; a run that
-- failed in between plans the same again on its replay.
create function public.newsletter_plan(
  p_user_id text,
  p_consent boolean,
  p_at timestamptz,
  p_address text
) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  p public.email_preferences%rowtype;
  v_subscribed boolean;
  v_plan jsonb;
begin
  if p_user_id is null or p_user_id = '' or p_consent is null or p_at is null then
    raise exception 'Cannot plan newsletter change: user id, consent and time are required'
      using errcode = '22023';
  end if;
  select * into p from public.email_preferences where user_id = p_user_id;
  v_plan := jsonb_build_object('planned_at', now(), 'address', null, 'previous_address', null);

  if p.newsletter_erased_at is not null then
    return v_plan || '{"action": "none", "reason": "deleted"}';
  end if;
  if p.newsletter_consent_at is not null and p_at < p.newsletter_consent_at then
    return v_plan || '{"action": "none", "reason": "stale"}';
  end if;
  v_subscribed := p.newsletter_opt_in_at is not null and p.newsletter_opt_out_at is null
    and p.newsletter_address is not null;

  if not p_consent then
    if v_subscribed then
      return v_plan || jsonb_build_object(
        'action', 'unsubscribe', 'address', p.newsletter_address, 'reason', 'withdrawn');
    end if;
    return v_plan || '{"action": "none", "reason": "no consent"}';
  end if;

  if p_address is null or p_address = '' then
    return v_plan || '{"action": "none", "reason": "no address"}';
  end if;
  if v_subscribed then
    if lower(p.newsletter_address) <> lower(p_address) then
      return v_plan || jsonb_build_object('action', 'move', 'address', p_address,
        'previous_address', p.newsletter_address, 'reason', 'address changed');
    end if;
    return v_plan || '{"action": "none", "reason": "subscribed"}';
  end if;
  if p.newsletter_opt_out_at is not null and not (
    p.newsletter_consent is distinct from true and p_at > p.newsletter_opt_out_at
  ) then
    return v_plan || '{"action": "none", "reason": "opted out"}';
  end if;
  return v_plan || jsonb_build_object('action', 'subscribe', 'address', p_address,
    'previous_address', p.newsletter_address,
    'reason', case when p.newsletter_opt_out_at is null then 'consent' else 'consent renewed' end);
end;
$$;

comment on function public.newsletter_plan is
  'What a Clerk user event asks of the newsletter provider (subscribe, move, unsubscribe or none), as JSON. Writes nothing.';

-- Records what a Clerk user event did, after the provider carried out the
-- plan. An opt-out that arrived after p_planned_at stays. Returns
-- 'recorded', 'stale' or 'deleted'.
create function public.newsletter_commit(
  p_user_id text,
  p_consent boolean,
  p_at timestamptz,
  p_address text,
  p_action text,
  p_planned_at timestamptz
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  p public.email_preferences%rowtype;
begin
  if p_action is null or p_action not in ('subscribe', 'move', 'unsubscribe', 'none') then
    raise exception 'Cannot record newsletter change for user "%": "%" is not an action',
      p_user_id, p_action using errcode = '22023';
  end if;
  select * into p from public.email_preferences where user_id = p_user_id for update;
  if not found then
    -- Nothing to remember of a user who never consented.
    if not p_consent then
      return 'recorded';
    end if;
    insert into public.email_preferences (user_id) values (p_user_id)
      on conflict (user_id) do nothing;
    select * into p from public.email_preferences where user_id = p_user_id for update;
  end if;
  if p.newsletter_erased_at is not null then
    return 'deleted';
  end if;
  if p.newsletter_consent_at is not null and p_at < p.newsletter_consent_at then
    return 'stale';
  end if;

  update public.email_preferences e set
    newsletter_consent = p_consent,
    newsletter_consent_at = p_at,
    newsletter_address = case
      when p_action in ('subscribe', 'move') then p_address else e.newsletter_address end,
    newsletter_opt_in_at = case
      when p_action = 'subscribe' then now() else e.newsletter_opt_in_at end,
    newsletter_opt_out_at = case
      when p_action = 'subscribe' and e.newsletter_opt_out_at <= p_planned_at then null
      when p_action = 'unsubscribe' then coalesce(e.newsletter_opt_out_at, now())
      else e.newsletter_opt_out_at end,
    newsletter_source = case
      when p_action = 'subscribe' and (e.newsletter_opt_out_at is null
        or e.newsletter_opt_out_at <= p_planned_at) then 'clerk_metadata'
      when p_action = 'unsubscribe' and e.newsletter_opt_out_at is null then 'clerk_metadata'
      else e.newsletter_source end,
    newsletter_unsubscribe_pending = case
      when p_action = 'subscribe' and e.newsletter_opt_out_at <= p_planned_at then false
      else e.newsletter_unsubscribe_pending end,
    updated_at = now()
  where e.user_id = p_user_id;
  return 'recorded';
end;
$$;

comment on function public.newsletter_commit is
  'Records a Clerk user event''s newsletter change after the provider carried it out. Returns recorded, stale or deleted.';

-- Records an opt-out reported by the provider (Mailchimp's webhook,
-- Resend's contact.updated), found by the address the provider knows.
-- Returns 'opted_out', 'already_opted_out' or 'unknown'.
create function public.record_newsletter_opt_out(p_address text, p_source text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_found boolean;
  v_changed boolean;
begin
  if p_source is null or p_source not in ('mailchimp_unsubscribe', 'mailchimp_cleaned', 'resend') then
    raise exception 'Cannot record newsletter opt-out: "%" is not a provider source', p_source
      using errcode = '22023';
  end if;
  select true into v_found from public.email_preferences
   where lower(newsletter_address) = lower(p_address) and newsletter_address is not null
     and newsletter_erased_at is null
   limit 1;
  if v_found is null then
    return 'unknown';
  end if;
  update public.email_preferences set
    newsletter_opt_out_at = now(),
    newsletter_source = p_source,
    updated_at = now()
  where lower(newsletter_address) = lower(p_address) and newsletter_address is not null
    and newsletter_erased_at is null and newsletter_opt_out_at is null
  returning true into v_changed;
  return case when v_changed then 'opted_out' else 'already_opted_out' end;
end;
$$;

comment on function public.record_newsletter_opt_out is
  'Records a newsletter opt-out the provider reported, by address. Returns opted_out, already_opted_out or unknown.';

-- The address whose opt-out the provider has not confirmed yet, or null.
create function public.newsletter_pending_unsubscribe(p_user_id text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select newsletter_address from public.email_preferences
   where user_id = p_user_id and newsletter_unsubscribe_pending
     and newsletter_erased_at is null and newsletter_address is not null;
$$;

-- Clears the pending opt-out once the provider confirmed it for p_address.
create function public.newsletter_unsubscribe_confirmed(p_user_id text, p_address text)
returns text
language sql
security definer
set search_path = ''
as $$
  update public.email_preferences set newsletter_unsubscribe_pending = false, updated_at = now()
   where user_id = p_user_id and newsletter_address = p_address
     and newsletter_unsubscribe_pending and newsletter_opt_out_at is not null
  returning 'confirmed';
$$;

-- Users whose opt-out still waits for the provider, oldest change first.
create function public.newsletter_pending_unsubscribes(p_limit integer)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(user_id), '{}') from (
    select user_id from public.email_preferences
     where newsletter_unsubscribe_pending and newsletter_erased_at is null
     order by updated_at
     limit greatest(1, least(p_limit, 1000))
  ) pending;
$$;

-- A deleted Clerk user: from now on nothing is sent to the provider for
-- them. Returns the address the provider knows them by (to remove it there),
-- or null.
create function public.newsletter_erase_begin(p_user_id text, p_deleted_at timestamptz)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_address text;
begin
  insert into public.email_preferences as e (user_id, newsletter_erased_at)
  values (p_user_id, p_deleted_at)
  on conflict (user_id) do update set
    newsletter_erased_at = coalesce(e.newsletter_erased_at, excluded.newsletter_erased_at),
    updated_at = now();
  select newsletter_address into v_address from public.email_preferences
   where user_id = p_user_id;
  return v_address;
end;
$$;

-- Once the provider removed them: erases the address; the row keeps the
-- tombstone and the consent history, which name no one.
create function public.newsletter_erase_done(p_user_id text)
returns text
language sql
security definer
set search_path = ''
as $$
  update public.email_preferences set
    newsletter_address = null,
    newsletter_unsubscribe_pending = false,
    updated_at = now()
  where user_id = p_user_id and newsletter_erased_at is not null
  returning 'erased';
$$;

-- One-click unsubscribe from our marketing email (and the unsubscribe page)
-- also leaves the newsletter: the opt-out is recorded here, in the same
-- transaction, and waits as pending until the provider confirmed it. The
-- marketing opt-out itself is unchanged (the first time and source stay).
create or replace function public.opt_out_of_marketing_email(p_user_id text, p_source text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_outcome text;
begin
  if p_user_id is null or p_user_id = '' then
    raise exception 'Cannot opt out: user id is required' using errcode = '22023';
  end if;
  if p_source is null or p_source not in ('one_click', 'page', 'complaint', 'bounce') then
    raise exception 'Cannot opt out user "%": "%" is not a source', p_user_id, p_source
      using errcode = '22023';
  end if;

  insert into public.email_preferences as p (user_id, marketing_opt_out_at, source)
  values (p_user_id, now(), p_source)
  on conflict (user_id) do update set
    marketing_opt_out_at = excluded.marketing_opt_out_at,
    source = excluded.source,
    updated_at = now()
  where p.marketing_opt_out_at is null
  returning 'opted_out' into v_outcome;

  if p_source in ('one_click', 'page') then
    update public.email_preferences set
      newsletter_opt_out_at = now(),
      newsletter_source = p_source,
      newsletter_unsubscribe_pending = true,
      updated_at = now()
    where user_id = p_user_id and newsletter_address is not null
      and newsletter_opt_out_at is null and newsletter_erased_at is null;
  end if;

  return coalesce(v_outcome, 'already_opted_out');
end;
$$;

revoke all on function public.newsletter_plan(text, boolean, timestamptz, text) from public, anon, authenticated;
revoke all on function public.newsletter_commit(text, boolean, timestamptz, text, text, timestamptz) from public, anon, authenticated;
revoke all on function public.record_newsletter_opt_out(text, text) from public, anon, authenticated;
revoke all on function public.newsletter_pending_unsubscribe(text) from public, anon, authenticated;
revoke all on function public.newsletter_unsubscribe_confirmed(text, text) from public, anon, authenticated;
revoke all on function public.newsletter_pending_unsubscribes(integer) from public, anon, authenticated;
revoke all on function public.newsletter_erase_begin(text, timestamptz) from public, anon, authenticated;
revoke all on function public.newsletter_erase_done(text) from public, anon, authenticated;
grant execute on function public.newsletter_plan(text, boolean, timestamptz, text) to service_role;
grant execute on function public.newsletter_commit(text, boolean, timestamptz, text, text, timestamptz) to service_role;
grant execute on function public.record_newsletter_opt_out(text, text) to service_role;
grant execute on function public.newsletter_pending_unsubscribe(text) to service_role;
grant execute on function public.newsletter_unsubscribe_confirmed(text, text) to service_role;
grant execute on function public.newsletter_pending_unsubscribes(integer) to service_role;
grant execute on function public.newsletter_erase_begin(text, timestamptz) to service_role;
grant execute on function public.newsletter_erase_done(text) to service_role;

insert into public.clerk_events_migrations (version) values ('20261202110000_newsletter')
  on conflict do nothing;
