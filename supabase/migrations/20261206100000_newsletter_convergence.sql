-- The newsletter converges on Clerk's consent whatever the order, delay or
-- interleaving of its runs (issue 27, bugs a, b, c, d, h, i and j).
--
-- The workflow no longer carries a plan from one step to the next. Each
-- run first records what it learned (a Clerk state, a deletion), then one
-- step brings the provider in line with what the database wants *now*:
-- whatever runs interleaved before it, the last step of a user acts on the
-- newest state (steps of one user never run at once: Inngest's
-- concurrency key counts steps).
--
-- - Every Clerk state seen (consent true or not, at Clerk's updated_at) is
--   kept in public.newsletter_consent_states, so that "consent changed to
--   true after the opt-out" is decided on the states ordered by Clerk's
--   clock, not by arrival: a late older event can no longer subscribe
--   anyone (a), and "no consent" is recorded even without a row.
-- - A withdrawal in Clerk is a state, not an opt-out: newsletter_opt_out_at
--   holds only opt-outs taken outside Clerk (one-click, the page, the
--   provider), at our clock, and only those are compared with Clerk's
--   consent times (c). A one-click opt-out counts whether or not the
--   provider knew the user yet (h).
-- - What the provider was last told (newsletter_address,
--   newsletter_provider_subscribed) is written after the provider answered;
--   a user deleted meanwhile gets the address queued for removal instead.
-- - A deletion erases the address at once, whichever path tombstones the
--   user (a trigger on public.users), and queues its removal at the provider
--   in public.newsletter_removals, which the workflow and the hourly sweep
--   work through until the provider confirms (d, i).

create table public.newsletter_consent_states (
  user_id text not null,
  at timestamptz not null,
  consent boolean not null,
  primary key (user_id, at)
);

comment on table public.newsletter_consent_states is
  'Every Clerk state of unsafe_metadata.newsletter seen for a user (consent true or not), at Clerk''s updated_at. Deleted with the user.';

create table public.newsletter_removals (
  user_id text not null,
  address text not null,
  requested_at timestamptz not null default now(),
  primary key (user_id, address)
);

comment on table public.newsletter_removals is
  'Addresses of deleted users still to remove at the newsletter provider; each row goes once the provider confirmed.';

alter table public.newsletter_consent_states enable row level security;
alter table public.newsletter_removals enable row level security;
revoke all on table public.newsletter_consent_states, public.newsletter_removals
  from anon, authenticated;
grant all on table public.newsletter_consent_states, public.newsletter_removals to service_role;

alter table public.email_preferences
  add column newsletter_wanted_address text,
  add column newsletter_provider_subscribed boolean default false,
  add column newsletter_synced_at timestamptz,
  add column newsletter_changed_at timestamptz;

comment on column public.email_preferences.newsletter_wanted_address is 'The primary address of the newest Clerk state seen: where the subscription belongs. Erased when the user is deleted.';
comment on column public.email_preferences.newsletter_provider_subscribed is 'Whether the provider was last told the user is subscribed (at newsletter_address); null while a call is in flight or its answer was lost.';
comment on column public.email_preferences.newsletter_synced_at is 'When the provider was last brought in line with the wanted state.';
comment on column public.email_preferences.newsletter_changed_at is 'When a newer Clerk state was last recorded (our clock, comparable with newsletter_synced_at).';
comment on column public.email_preferences.newsletter_opt_out_at is 'The latest opt-out taken outside Clerk (one-click, the page, the provider). They stay out until Clerk shows their consent changed to true after this.';

-- Records one Clerk state of the user (user.created/updated, or the
-- reconcile's read): the consent and when Clerk stamped it, and, when it is
-- the newest, the address. Returns 'recorded', 'stale' (an older state,
-- kept for the ordering) or 'deleted'.
create function public.newsletter_observe(
  p_user_id text,
  p_consent boolean,
  p_at timestamptz,
  p_address text
) returns text
language plpgsql
set search_path = ''
as $$
declare
  p public.email_preferences%rowtype;
begin
  if p_user_id is null or p_user_id = '' or p_consent is null or p_at is null then
    raise exception 'Cannot record newsletter consent: user id, consent and time are required'
      using errcode = '22023';
  end if;
  insert into public.email_preferences (user_id) values (p_user_id)
    on conflict (user_id) do nothing;
  select * into p from public.email_preferences where user_id = p_user_id for update;
  if p.newsletter_erased_at is not null then
    return 'deleted';
  end if;
  insert into public.newsletter_consent_states (user_id, at, consent)
    values (p_user_id, p_at, p_consent)
    on conflict (user_id, at) do nothing;
  if p.newsletter_consent_at is not null and p_at <= p.newsletter_consent_at then
    return 'stale';
  end if;
  update public.email_preferences set
    newsletter_consent = p_consent,
    newsletter_consent_at = p_at,
    newsletter_wanted_address = nullif(p_address, ''),
    newsletter_changed_at = now(),
    updated_at = now()
  where user_id = p_user_id;
  return 'recorded';
end;
$$;

-- The reconcile's read of every user: records each current state (as
-- newsletter_observe) for users who consent or whom the newsletter already
-- knows, so that a lost webhook's consent is not lost with it. Returns how
-- many were recorded.
create function public.newsletter_observe_many(p_states jsonb)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  r record;
  v_count integer := 0;
begin
  for r in
    select s.user_id, s.consent, s.at, s.address
      from jsonb_to_recordset(coalesce(p_states, '[]')) as s(
        user_id text, consent boolean, at timestamptz, address text)
     where s.consent
        or exists (select from public.email_preferences e where e.user_id = s.user_id)
  loop
    if public.newsletter_observe(r.user_id, r.consent, r.at, r.address) = 'recorded' then
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end;
$$;

-- When consent was last given: the newest state with consent whose
-- predecessor, by Clerk's clock, had none (or the first state seen). Null
-- when the user never consented.
create function public.newsletter_consent_given_at(p_user_id text)
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select max(s.at)
    from (
      select c.at, c.consent, lag(c.consent) over (order by c.at) as previous
        from public.newsletter_consent_states c
       where c.user_id = p_user_id
    ) s
   where s.consent and s.previous is distinct from true;
$$;

-- What the provider should hold for the user now, and what it was last
-- told: {erased, subscribe, address, first_name, last_name,
-- provider_address, provider_subscribed, read_at}. subscribe: the newest
-- state consents, and consent was given (a state with consent whose
-- predecessor, by Clerk's clock, had none, or the first state seen) after
-- the latest opt-out. The names are public.users' (null before its row).
create function public.newsletter_wanted(p_user_id text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  p public.email_preferences%rowtype;
  v_given timestamptz;
  v_newest boolean;
  v_subscribe boolean;
begin
  select * into p from public.email_preferences where user_id = p_user_id;
  if p.user_id is null or p.newsletter_erased_at is not null then
    return jsonb_build_object('erased', p.newsletter_erased_at is not null, 'subscribe', false,
      'address', null, 'first_name', null, 'last_name', null, 'provider_address', null,
      'provider_subscribed', false, 'read_at', now());
  end if;
  v_given := public.newsletter_consent_given_at(p_user_id);
  select c.consent into v_newest from public.newsletter_consent_states c
   where c.user_id = p_user_id order by c.at desc limit 1;
  v_subscribe := coalesce(v_newest, false) and p.newsletter_wanted_address is not null
    and v_given is not null
    and v_given > coalesce(p.newsletter_opt_out_at, '-infinity'::timestamptz);
  return jsonb_build_object(
    'erased', false,
    'subscribe', v_subscribe,
    'address', p.newsletter_wanted_address,
    'first_name', (select u.first_name from public.users u where u.id = p_user_id),
    'last_name', (select u.last_name from public.users u where u.id = p_user_id),
    'provider_address', p.newsletter_address,
    'provider_subscribed', p.newsletter_provider_subscribed,
    'read_at', now()
  );
end;
$$;

-- Records what the provider holds for the user: p_address subscribed or
-- not, after it answered, or null (unknown) just before a call, so that a
-- call whose answer is lost is made again whatever is wanted next.
-- p_read_at is when the step read what was wanted: an opt-out recorded
-- after that stays pending. A user deleted in the meantime gets p_address
-- queued for removal instead. Returns 'recorded' or 'deleted'.
create function public.newsletter_provider_done(
  p_user_id text,
  p_address text,
  p_subscribed boolean,
  p_read_at timestamptz
) returns text
language plpgsql
set search_path = ''
as $$
declare
  p public.email_preferences%rowtype;
begin
  select * into p from public.email_preferences where user_id = p_user_id for update;
  if p.user_id is null or p.newsletter_erased_at is not null then
    if p_address is not null then
      insert into public.newsletter_removals (user_id, address) values (p_user_id, p_address)
        on conflict do nothing;
    end if;
    return 'deleted';
  end if;
  update public.email_preferences set
    newsletter_address = p_address,
    newsletter_provider_subscribed = p_subscribed,
    newsletter_synced_at = case when p_subscribed is null then newsletter_synced_at else now() end,
    newsletter_opt_in_at = case
      when p_subscribed and p.newsletter_provider_subscribed is distinct from true
      then now() else newsletter_opt_in_at end,
    newsletter_source = case
      when p_subscribed and p.newsletter_provider_subscribed is distinct from true
      then 'clerk_metadata' else newsletter_source end,
    newsletter_unsubscribe_pending = newsletter_unsubscribe_pending
      and (p_subscribed is null or newsletter_opt_out_at > p_read_at),
    updated_at = now()
  where user_id = p_user_id;
  return 'recorded';
end;
$$;

-- The provider kept its own opt-out of the user (an unsubscribe whose
-- webhook never came): recorded as theirs, now.
create function public.newsletter_provider_kept_out(p_user_id text)
returns text
language sql
set search_path = ''
as $$
  update public.email_preferences set
    newsletter_opt_out_at = now(),
    newsletter_source = case when newsletter_source in ('mailchimp_unsubscribe',
      'mailchimp_cleaned', 'resend') then newsletter_source else 'mailchimp_unsubscribe' end,
    newsletter_provider_subscribed = false,
    updated_at = now()
  where user_id = p_user_id and newsletter_erased_at is null
  returning 'recorded';
$$;

-- A deleted user: the tombstone, the address erased at once, and the
-- address the provider knows queued for removal there. Whichever path
-- deleted the user (the webhook, the reconcile, /users/me/sync) calls this,
-- through the trigger below; the workflow calls it too. Returns 'erased'.
create function public.newsletter_erase(p_user_id text, p_deleted_at timestamptz)
returns text
language plpgsql
set search_path = ''
as $$
begin
  insert into public.email_preferences as e (user_id, newsletter_erased_at)
  values (p_user_id, coalesce(p_deleted_at, now()))
  on conflict (user_id) do update set
    newsletter_erased_at = coalesce(e.newsletter_erased_at, excluded.newsletter_erased_at),
    updated_at = now();
  -- A provider that heard of the user may know them by the address it was
  -- told, or by the one a call in flight was moving them to.
  insert into public.newsletter_removals (user_id, address)
  select p_user_id, a.address
    from public.email_preferences e,
         lateral (values (e.newsletter_address), (e.newsletter_wanted_address)) as a(address)
   where e.user_id = p_user_id and e.newsletter_address is not null and a.address is not null
  on conflict do nothing;
  update public.email_preferences set
    newsletter_address = null,
    newsletter_wanted_address = null,
    newsletter_provider_subscribed = false,
    newsletter_unsubscribe_pending = false,
    updated_at = now()
  where user_id = p_user_id;
  delete from public.newsletter_consent_states where user_id = p_user_id;
  return 'erased';
end;
$$;

create function public.newsletter_erase_deleted_user()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform public.newsletter_erase(new.id, new.deleted_at);
  return null;
end;
$$;

create trigger users_erase_newsletter_when_deleted
  after insert or update of deleted_at on public.users
  for each row
  when (new.deleted_at is not null)
  execute function public.newsletter_erase_deleted_user();

-- Addresses of the user still to remove at the provider.
create function public.newsletter_removals_of(p_user_id text)
returns text[]
language sql
stable
set search_path = ''
as $$
  select coalesce(array_agg(address order by address), '{}')
    from public.newsletter_removals where user_id = p_user_id;
$$;

-- The provider removed p_address.
create function public.newsletter_removal_done(p_user_id text, p_address text)
returns text
language sql
set search_path = ''
as $$
  delete from public.newsletter_removals where user_id = p_user_id and address = p_address
  returning 'removed';
$$;

-- Users the provider may not be in line with: an opt-out not confirmed,
-- a removal waiting, or a consent given since the last sync. The hourly
-- sweep nudges each.
create or replace function public.newsletter_pending_unsubscribes(p_limit integer)
returns text[]
language sql
stable
set search_path = ''
as $$
  select coalesce(array_agg(user_id), '{}') from (
    select user_id from (
      select e.user_id, e.updated_at from public.email_preferences e
       where e.newsletter_erased_at is null and (
         e.newsletter_unsubscribe_pending
         or e.newsletter_changed_at > coalesce(e.newsletter_synced_at, '-infinity'::timestamptz))
      union
      select r.user_id, r.requested_at from public.newsletter_removals r
    ) stale
     group by user_id
     order by min(updated_at)
     limit greatest(1, least(p_limit, 1000))
  ) pending;
$$;

-- An opt-out reported by the provider (Mailchimp's webhook, Resend's
-- contact.updated), found by the address the provider knows: the latest
-- opt-out, and the provider already holds it. Returns 'opted_out',
-- 'already_opted_out' or 'unknown'.
create or replace function public.record_newsletter_opt_out(p_address text, p_source text)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_found boolean;
  v_was_subscribed boolean;
begin
  if p_source is null or p_source not in ('mailchimp_unsubscribe', 'mailchimp_cleaned', 'resend') then
    raise exception 'Cannot record newsletter opt-out: "%" is not a provider source', p_source
      using errcode = '22023';
  end if;
  select bool_or(true), bool_or(newsletter_provider_subscribed) into v_found, v_was_subscribed
    from public.email_preferences
   where lower(newsletter_address) = lower(p_address) and newsletter_address is not null
     and newsletter_erased_at is null;
  if v_found is null then
    return 'unknown';
  end if;
  update public.email_preferences set
    newsletter_opt_out_at = now(),
    newsletter_source = p_source,
    newsletter_provider_subscribed = false,
    updated_at = now()
  where lower(newsletter_address) = lower(p_address) and newsletter_address is not null
    and newsletter_erased_at is null;
  return case when v_was_subscribed then 'opted_out' else 'already_opted_out' end;
end;
$$;

-- One-click unsubscribe (and the page) also leave the newsletter, whether
-- or not the provider knows the user yet: the latest opt-out, waiting as
-- pending until the provider is in line. Every click is recorded at its
-- time, even a repeat: the app may not know yet of a consent Clerk gave
-- between two clicks (its webhook late or lost), and the later click must
-- win over it. The marketing opt-out itself is unchanged (the first time
-- and source stay).
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
    where user_id = p_user_id and newsletter_erased_at is null;
  end if;

  return coalesce(v_outcome, 'already_opted_out');
end;
$$;

-- The plan/commit pair and the erase pair are replaced by the functions above.
drop function public.newsletter_plan(text, boolean, timestamptz, text);
drop function public.newsletter_commit(text, boolean, timestamptz, text, text, timestamptz);
drop function public.newsletter_erase_begin(text, timestamptz);
drop function public.newsletter_erase_done(text);
drop function public.newsletter_pending_unsubscribe(text);
drop function public.newsletter_unsubscribe_confirmed(text, text);

-- Only the service role calls these: no security definer, no grant to the
-- API's other roles (Supabase grants EXECUTE to them by default).
revoke all on function public.newsletter_observe(text, boolean, timestamptz, text) from public, anon, authenticated;
revoke all on function public.newsletter_observe_many(jsonb) from public, anon, authenticated;
revoke all on function public.newsletter_consent_given_at(text) from public, anon, authenticated;
revoke all on function public.newsletter_wanted(text) from public, anon, authenticated;
revoke all on function public.newsletter_provider_done(text, text, boolean, timestamptz) from public, anon, authenticated;
revoke all on function public.newsletter_provider_kept_out(text) from public, anon, authenticated;
revoke all on function public.newsletter_erase(text, timestamptz) from public, anon, authenticated;
revoke all on function public.newsletter_erase_deleted_user() from public, anon, authenticated;
revoke all on function public.newsletter_removals_of(text) from public, anon, authenticated;
revoke all on function public.newsletter_removal_done(text, text) from public, anon, authenticated;
revoke all on function public.newsletter_pending_unsubscribes(integer) from public, anon, authenticated;
revoke all on function public.record_newsletter_opt_out(text, text) from public, anon, authenticated;
grant execute on function public.newsletter_observe(text, boolean, timestamptz, text) to service_role;
grant execute on function public.newsletter_observe_many(jsonb) to service_role;
grant execute on function public.newsletter_consent_given_at(text) to service_role;
grant execute on function public.newsletter_wanted(text) to service_role;
grant execute on function public.newsletter_provider_done(text, text, boolean, timestamptz) to service_role;
grant execute on function public.newsletter_provider_kept_out(text) to service_role;
grant execute on function public.newsletter_erase(text, timestamptz) to service_role;
grant execute on function public.newsletter_removals_of(text) to service_role;
grant execute on function public.newsletter_removal_done(text, text) to service_role;
grant execute on function public.newsletter_pending_unsubscribes(integer) to service_role;
grant execute on function public.record_newsletter_opt_out(text, text) to service_role;

insert into public.clerk_events_migrations (version) values ('20261206100000_newsletter_convergence')
  on conflict do nothing;
