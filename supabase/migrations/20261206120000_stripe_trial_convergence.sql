-- A Stripe customer never outlives its user (issue 27, bug l): when the
-- user.deleted webhook is lost, the reconcile or /users/me/sync still
-- tombstones the user in public.users, and the hourly stripe-customer-sweep
-- finds their live billing row here and has delete-stripe-customer delete
-- the customer (which tombstones the row, so it is found once).

create function public.billing_customers_of_deleted_users(p_limit integer)
returns text[]
language sql
stable
set search_path = ''
as $$
  select coalesce(array_agg(user_id), '{}') from (
    select b.user_id
      from public.billing_customers b
      join public.users u on u.id = b.user_id
     where b.deleted_at is null and u.deleted_at is not null
     order by u.deleted_at
     limit greatest(1, least(p_limit, 1000))
  ) orphans;
$$;

comment on function public.billing_customers_of_deleted_users(integer) is
  'Users tombstoned in public.users whose billing row is live: their Stripe customer is still to delete.';

revoke all on function public.billing_customers_of_deleted_users(integer) from public, anon, authenticated;
grant execute on function public.billing_customers_of_deleted_users(integer) to service_role;

insert into public.clerk_events_migrations (version) values ('20261206120000_stripe_trial_convergence')
  on conflict do nothing;
