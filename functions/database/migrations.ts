/**
 * The migrations this code needs, by name (the file name in
 * `supabase/migrations` without `.sql`), oldest first. Each migration records
 * its name in `public.clerk_events_migrations`, and `/health` names every one
 * of these that the database lacks. A test checks that this list and the
 * folder agree, so adding a migration means adding its line here.
 */
export const MIGRATIONS: readonly string[] = [
  "20261129170000_users",
  "20261129180000_email_deliveries",
  "20261129190000_health_check",
  "20261130100000_clerk_sync_runs",
  "20261130110000_email_preferences",
  "20261130120000_users_me_sync",
  "20261202090000_schema_version",
  "20261202095000_health_schema",
  "20261202100000_organizations",
  "20261202110000_newsletter",
  "20261202120000_billing_customers",
  "20261203100000_clerk_billing",
  "20261203120000_auth_emails",
  "20261206100000_newsletter_convergence",
  "20261206110000_memberships_convergence",
  "20261206120000_stripe_trial_convergence",
  "20261206130000_private_helpers",
  "20261206140000_billing_convergence",
];
