-- Clerk's own emails (email.created, delivered through Resend by the webhook)
-- in the public.email_deliveries ledger.
--
-- One row per Clerk message, kind 'auth', keyed by the svix-id of the
-- webhook that carried it: a user gets many codes, and a sign-up code has no
-- user yet (user_id null). The row holds the template's slug, the Resend id
-- and the status, never the content: no subject, no body, no code, no
-- address.
--
-- (user_id, kind) stays unique for the onboarding emails, welcome and
-- trial_offer, which claim_email_delivery relies on; the primary key becomes
-- a surrogate id, since user_id may now be null.

alter table public.email_deliveries drop constraint email_deliveries_pkey;
alter table public.email_deliveries add column id bigint generated always as identity;
alter table public.email_deliveries add constraint email_deliveries_pkey primary key (id);
alter table public.email_deliveries alter column user_id drop not null;
alter table public.email_deliveries
  add column svix_id text constraint email_deliveries_svix_id_key unique,
  add column slug text;

alter table public.email_deliveries drop constraint email_deliveries_kind_check;
alter table public.email_deliveries add constraint email_deliveries_kind_check
  check (kind in ('welcome', 'trial_offer', 'auth'));
-- An onboarding email is the user's; one of Clerk's is the webhook's.
alter table public.email_deliveries add constraint email_deliveries_key_check
  check (
    (kind = 'auth' and svix_id is not null)
    or (kind <> 'auth' and user_id is not null and svix_id is null)
  );
create unique index email_deliveries_user_kind_key
  on public.email_deliveries (user_id, kind)
  where kind in ('welcome', 'trial_offer');

comment on table public.email_deliveries is
  'Every email sent or skipped, written by the clerk-events edge function: the onboarding emails, one row per user and kind (welcome, trial_offer), and Clerk''s own emails, one row per Clerk message (kind auth). Never the content.';
comment on column public.email_deliveries.id is 'Row id.';
comment on column public.email_deliveries.user_id is 'Clerk user id the email is for; null for one of Clerk''s emails to someone who is not a user yet (a sign-up code).';
comment on column public.email_deliveries.kind is 'welcome, trial_offer, or auth (one of Clerk''s own emails: a code, a magic link, an invitation).';
comment on column public.email_deliveries.svix_id is 'For kind auth: the svix-id of the email.created webhook that carried the email; its Resend idempotency key is clerk-email/<svix_id>.';
comment on column public.email_deliveries.slug is 'For kind auth: Clerk''s template, e.g. verification_code or magic_link_sign_in.';

-- The onboarding emails' claim, unchanged but for the unique index it names
-- (now partial) and the kinds it accepts.
create or replace function public.claim_email_delivery(p_user_id text, p_kind text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_status text;
begin
  if p_kind is null or p_kind not in ('welcome', 'trial_offer') then
    raise exception 'Cannot claim delivery: "%" is not an onboarding email', p_kind
      using errcode = '22023';
  end if;

  insert into public.email_deliveries (user_id, kind)
  values (p_user_id, p_kind)
  on conflict (user_id, kind) where kind in ('welcome', 'trial_offer') do nothing;

  select d.status into v_status
    from public.email_deliveries d
   where d.user_id = p_user_id and d.kind = p_kind;
  return v_status;
end;
$$;

-- Records what became of one of Clerk's emails. 'pending' is an attempt that
-- failed and that Svix will retry: it may be recorded again (with the newer
-- error) or give way to a final status; a final status ('sent', 'skipped',
-- 'failed', 'dry_run') stays. Returns the row's status afterwards.
create function public.record_auth_email(
  p_svix_id text,
  p_user_id text,
  p_slug text,
  p_status text,
  p_resend_id text default null,
  p_error text default null
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_status text;
begin
  if p_svix_id is null or p_svix_id = '' then
    raise exception 'Cannot record Clerk''s email: the svix-id is required' using errcode = '22023';
  end if;
  if p_status is null or p_status not in ('pending', 'sent', 'skipped', 'failed', 'dry_run') then
    raise exception 'Cannot record Clerk''s email "%": "%" is not a status', p_svix_id, p_status
      using errcode = '22023';
  end if;

  insert into public.email_deliveries as d (kind, svix_id, user_id, slug, status, resend_id, error)
  values ('auth', p_svix_id, p_user_id, p_slug, p_status, p_resend_id, p_error)
  on conflict (svix_id) do update set
    status = excluded.status,
    resend_id = coalesce(excluded.resend_id, d.resend_id),
    error = excluded.error,
    updated_at = now()
  where d.status = 'pending'
  returning d.status into v_status;

  if v_status is null then
    select d.status into v_status from public.email_deliveries d where d.svix_id = p_svix_id;
  end if;
  return v_status;
end;
$$;

comment on function public.record_auth_email is
  'Records one of Clerk''s emails by the svix-id of its webhook: pending (Svix will retry) may change, a final status stays. Returns the status.';

-- The status of one of Clerk's emails, or null when none was recorded.
create function public.auth_email_status(p_svix_id text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select d.status from public.email_deliveries d where d.svix_id = p_svix_id;
$$;

comment on function public.auth_email_status is
  'The status of the email that the email.created webhook with this svix-id carried, or null.';

-- Resend's delivery events, as before, now also for Clerk's emails, whose
-- user_id may be null. They never opt anyone out of marketing email: the
-- address of a code may not be the user's own (one being added, or mistyped),
-- and Resend's own suppression list already stops mail to an address that
-- bounced or complained.
create or replace function public.record_email_event(
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
  v_kind text;
  v_outcome text;
begin
  if p_resend_id is null or p_resend_id = '' or p_event is null or p_event = '' or p_at is null then
    raise exception 'Cannot record email event: resend id, event and time are required'
      using errcode = '22023';
  end if;

  select d.user_id, d.kind into v_user_id, v_kind
    from public.email_deliveries d
   where d.resend_id = p_resend_id
   limit 1;
  if not found then
    return 'unknown';
  end if;

  update public.email_deliveries d
     set last_event = p_event, last_event_at = p_at, updated_at = now()
   where d.resend_id = p_resend_id
     and (d.last_event_at is null or d.last_event_at < p_at)
  returning 'updated' into v_outcome;

  if p_opt_out_source is not null and v_kind <> 'auth' then
    perform public.opt_out_of_marketing_email(v_user_id, p_opt_out_source);
  end if;
  return coalesce(v_outcome, 'stale');
end;
$$;

comment on function public.record_email_event is
  'Applies a Resend delivery event to the email with that resend_id; the newest event wins. Opts the user out when p_opt_out_source is given, except for Clerk''s own emails (kind auth). Returns updated, stale or unknown.';

revoke all on function public.record_auth_email(text, text, text, text, text, text) from public, anon, authenticated;
revoke all on function public.auth_email_status(text) from public, anon, authenticated;
grant execute on function public.record_auth_email(text, text, text, text, text, text) to service_role;
grant execute on function public.auth_email_status(text) to service_role;

insert into public.clerk_events_migrations (version) values ('20261203120000_auth_emails')
  on conflict do nothing;
