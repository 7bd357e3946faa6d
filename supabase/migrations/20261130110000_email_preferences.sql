-- Email compliance: who opted out of marketing email, and what Resend
-- reported about each email sent.
--
-- public.email_preferences holds one row per user who opted out, whether by
-- RFC 8058 one-click unsubscribe, the unsubscribe page, a spam complaint or
-- a permanent bounce. The first opt-out stays: repeating it changes nothing.
--
-- public.email_deliveries gains the last event Resend reported for the email
-- (delivered, bounced, complained, ...) and when it happened. Webhooks arrive
-- at least once and in no guaranteed order, so an event only applies when it
-- is strictly newer than the one stored.

create table public.email_preferences (
  user_id text primary key,
  marketing_opt_out_at timestamptz,
  source text constraint email_preferences_source_check
    check (source in ('one_click', 'page', 'complaint', 'bounce')),
  updated_at timestamptz not null default now(),
  constraint email_preferences_opt_out_has_source check (
    (marketing_opt_out_at is null) = (source is null)
  )
);

comment on table public.email_preferences is
  'Marketing email preferences per Clerk user, written by the clerk-events edge function. A user with marketing_opt_out_at set gets no trial offer.';
comment on column public.email_preferences.user_id is 'Clerk user id (user_...). Matches the sub claim of Clerk session tokens.';
comment on column public.email_preferences.marketing_opt_out_at is 'When the user opted out of marketing email. Null while they have not.';
comment on column public.email_preferences.source is 'How they opted out: one_click (RFC 8058 POST from the mail client), page (the unsubscribe page), complaint (marked as spam) or bounce (permanent bounce).';
comment on column public.email_preferences.updated_at is 'When this row last changed.';

alter table public.email_preferences enable row level security;

create policy "Users can read their own email preferences"
  on public.email_preferences
  for select
  to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on table public.email_preferences from anon;
revoke insert, update, delete, truncate, references, trigger on table public.email_preferences from authenticated;
grant select on table public.email_preferences to authenticated;
grant all on table public.email_preferences to service_role;

alter table public.email_deliveries
  add column last_event text,
  add column last_event_at timestamptz;

comment on column public.email_deliveries.last_event is 'The newest event Resend reported for this email, as Resend names it without the email. prefix: sent, delivered, delivery_delayed, bounced, complained, opened, clicked, failed, suppressed, scheduled, ...';
comment on column public.email_deliveries.last_event_at is 'When last_event happened (the created_at of Resend''s webhook). An older event never replaces a newer one.';

-- Resend's events name the email by its id.
create index email_deliveries_resend_id_idx
  on public.email_deliveries (resend_id)
  where resend_id is not null;

-- Opts a user out of marketing email. Returns 'opted_out' the first time and
-- 'already_opted_out' after that (the first time and source stay).
create function public.opt_out_of_marketing_email(p_user_id text, p_source text)
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

  return coalesce(v_outcome, 'already_opted_out');
end;
$$;

comment on function public.opt_out_of_marketing_email is
  'Opts a user out of marketing email (source one_click, page, complaint or bounce). Returns opted_out, or already_opted_out without changing anything.';

-- Whether a user opted out of marketing email.
create function public.marketing_email_opted_out(p_user_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select from public.email_preferences p
     where p.user_id = p_user_id and p.marketing_opt_out_at is not null
  );
$$;

comment on function public.marketing_email_opted_out is
  'True when the user opted out of marketing email. Checked before each trial offer.';

-- Applies one of Resend's delivery events to the email it names, and opts
-- the user out when p_opt_out_source is given (a complaint or a permanent
-- bounce, which count however late they arrive). Returns 'updated',
-- 'stale' (not newer than the event stored) or 'unknown' (no email of ours
-- has this id: nothing is written).
create function public.record_email_event(
  p_resend_id text,
  p_event text,
  p_at timestamptz,
  p_opt_out_source text default null
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id text;
  v_outcome text;
begin
  if p_resend_id is null or p_resend_id = '' or p_event is null or p_event = '' or p_at is null then
    raise exception 'Cannot record email event: resend id, event and time are required'
      using errcode = '22023';
  end if;

  select d.user_id into v_user_id
    from public.email_deliveries d
   where d.resend_id = p_resend_id
   limit 1;
  if v_user_id is null then
    return 'unknown';
  end if;

  update public.email_deliveries d
     set last_event = p_event, last_event_at = p_at, updated_at = now()
   where d.resend_id = p_resend_id
     and (d.last_event_at is null or d.last_event_at < p_at)
  returning 'updated' into v_outcome;

  if p_opt_out_source is not null then
    perform public.opt_out_of_marketing_email(v_user_id, p_opt_out_source);
  end if;
  return coalesce(v_outcome, 'stale');
end;
$$;

comment on function public.record_email_event is
  'Applies a Resend delivery event to the email with that resend_id; the newest event wins. Opts the user out when p_opt_out_source is given. Returns updated, stale or unknown.';

-- Supabase grants EXECUTE on new functions to anon and authenticated by
-- default. These are for the service role only.
revoke all on function public.opt_out_of_marketing_email(text, text) from public, anon, authenticated;
revoke all on function public.marketing_email_opted_out(text) from public, anon, authenticated;
revoke all on function public.record_email_event(text, text, timestamptz, text) from public, anon, authenticated;
grant execute on function public.opt_out_of_marketing_email(text, text) to service_role;
grant execute on function public.marketing_email_opted_out(text) to service_role;
grant execute on function public.record_email_event(text, text, timestamptz, text) to service_role;
