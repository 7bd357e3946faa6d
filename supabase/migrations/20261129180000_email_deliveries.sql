-- public.email_deliveries: one row per user and kind of onboarding email.
--
-- Sending is claim, send, record. The primary key (user_id, kind) makes a
-- second claim find the first, so the same email can never go to the same
-- user twice; a claim that finds 'pending' is a retry after a crash between
-- send and record, and the Resend idempotency key derived from (user, kind)
-- makes that resend a no-op at Resend.

create table public.email_deliveries (
  user_id text not null,
  kind text not null constraint email_deliveries_kind_check
    check (kind in ('welcome', 'trial_offer')),
  status text not null default 'pending' constraint email_deliveries_status_check
    check (status in ('pending', 'sent', 'skipped', 'failed', 'dry_run')),
  resend_id text,
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint email_deliveries_pkey primary key (user_id, kind)
);

comment on table public.email_deliveries is
  'Onboarding emails, one row per user and kind: claimed (pending), then sent, skipped, failed or dry_run. Written by the clerk-events edge function.';
comment on column public.email_deliveries.user_id is 'Clerk user id the email is for.';
comment on column public.email_deliveries.kind is 'welcome or trial_offer.';
comment on column public.email_deliveries.status is 'pending (claimed, not yet recorded), sent, skipped, failed or dry_run (EMAIL_DRY_RUN: recorded, not sent).';
comment on column public.email_deliveries.resend_id is 'Id of the email at Resend, once sent.';
comment on column public.email_deliveries.error is 'Why it failed, or why it was skipped.';
comment on column public.email_deliveries.created_at is 'When the delivery was claimed.';
comment on column public.email_deliveries.updated_at is 'When the delivery last changed.';

alter table public.email_deliveries enable row level security;

create policy "Users can read their own email deliveries"
  on public.email_deliveries
  for select
  to authenticated
  using (user_id = (select auth.jwt() ->> 'sub'));

revoke all on table public.email_deliveries from anon;
revoke insert, update, delete, truncate, references, trigger on table public.email_deliveries from authenticated;
grant select on table public.email_deliveries to authenticated;
grant all on table public.email_deliveries to service_role;

-- Claims (user, kind) and returns its status: 'pending' means "send it"
-- (a first claim, or a retry whose send may or may not have reached
-- Resend); anything else is final and means "do not send".
create function public.claim_email_delivery(p_user_id text, p_kind text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_status text;
begin
  insert into public.email_deliveries (user_id, kind)
  values (p_user_id, p_kind)
  on conflict (user_id, kind) do nothing;

  select d.status into v_status
    from public.email_deliveries d
   where d.user_id = p_user_id and d.kind = p_kind;
  return v_status;
end;
$$;

-- Records the outcome of a claimed delivery. Only a pending delivery
-- changes, so the first outcome recorded stays. Returns the final status.
create function public.record_email_delivery(
  p_user_id text,
  p_kind text,
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
  if p_status not in ('sent', 'skipped', 'failed', 'dry_run') then
    raise exception 'Cannot record delivery: "%" is not a final status', p_status
      using errcode = '22023';
  end if;

  update public.email_deliveries d
     set status = p_status, resend_id = p_resend_id, error = p_error, updated_at = now()
   where d.user_id = p_user_id and d.kind = p_kind and d.status = 'pending'
  returning d.status into v_status;

  if v_status is null then
    select d.status into v_status
      from public.email_deliveries d
     where d.user_id = p_user_id and d.kind = p_kind;
  end if;
  if v_status is null then
    raise exception 'Cannot record delivery: (%, %) was never claimed', p_user_id, p_kind
      using errcode = '23503';
  end if;
  return v_status;
end;
$$;

-- The current address and first name of a user, for an email sent long
-- after the event that started it. Null when the user was never synced.
create function public.onboarding_recipient(p_user_id text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'email', u.email,
    'first_name', u.first_name,
    'deleted', u.deleted_at is not null
  )
    from public.users u
   where u.id = p_user_id;
$$;

revoke all on function public.claim_email_delivery(text, text) from public, anon, authenticated;
revoke all on function public.record_email_delivery(text, text, text, text, text) from public, anon, authenticated;
revoke all on function public.onboarding_recipient(text) from public, anon, authenticated;
grant execute on function public.claim_email_delivery(text, text) to service_role;
grant execute on function public.record_email_delivery(text, text, text, text, text) to service_role;
grant execute on function public.onboarding_recipient(text) to service_role;
