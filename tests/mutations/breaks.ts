/**
 * The deliberate breaks `deno task test:mutations` applies, one at a time,
 * to a temporary copy of the repository. Each must make at least one of its
 * suites fail. Add a break by adding an entry: every `find` must occur
 * exactly once in its file, or the run stops with "break did not apply", so
 * that a break never silently tests nothing after the code moves on.
 */

/** One text replacement in one file. */
export interface Patch {
  /** Path from the repository root. */
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

/** A deliberate break and the suites that must catch it. */
export interface Break {
  readonly name: string;
  readonly patches: readonly Patch[];
  /** Test files, from the repository root. */
  readonly suites: readonly string[];
  /** Extra environment for the test run. */
  readonly env?: Readonly<Record<string, string>>;
}

const FAULTS = { suites: ["tests/faults_test.ts"], env: { SOAK_USERS: "100" } } as const;
const FLOW = ["tests/flow_control_test.ts"];
const ONBOARDING = "functions/onboarding/onboarding_emails.ts";
const SYNC = "functions/users/sync_user.ts";
const NEWSLETTER = "tests/newsletter_test.ts";
const ORGS_MIGRATION = "supabase/migrations/20261202100000_organizations.sql";
const CONVERGENCE = ["tests/convergence/regressions_test.ts"];
const NEWSLETTER_CONVERGENCE = "supabase/migrations/20261206100000_newsletter_convergence.sql";
const PRIVATE_HELPERS = "supabase/migrations/20261206130000_private_helpers.sql";
const MEMBERSHIPS_CONVERGENCE = "supabase/migrations/20261206110000_memberships_convergence.sql";
const BILLING_MIGRATION = "supabase/migrations/20261203100000_clerk_billing.sql";
const BILLING_ROWS = "functions/clerk_billing/rows.ts";
const BILLING_DATABASE = "tests/clerk_billing_database_test.ts";
const BILLING_LIFE = "tests/clerk_billing_lifecycle_test.ts";
const BILLING_WEBHOOK = "tests/clerk_billing_webhook_test.ts";
const AUTH_EMAILS = ["tests/auth_emails_test.ts"];
const AUTH_EMAILS_PRIVACY = ["tests/auth_emails_privacy_test.ts"];
const AUTH_STAGE = "functions/auth_emails/stage.ts";
const AUTH_DELIVERY = "functions/auth_emails/delivery.ts";
/** The suite that runs the built artifact on Deno 2.1 (run.ts hands it the installed binary). */
export const PRODUCTION_RUNTIME = "tests/production_runtime_test.ts";

/** Every break, in the order they run. */
export const BREAKS: readonly Break[] = [
  {
    name: "ledger off (claim_email_delivery always answers pending)",
    patches: [{
      file: "functions/email/supabase_deliveries_store.ts",
      find: `    claim: (userId, kind) =>
      callRpc<DeliveryStatus>(client, "claim_email_delivery", { p_user_id: userId, p_kind: kind }),`,
      replace: `    claim: async (userId, kind) => {
      await callRpc<DeliveryStatus>(client, "claim_email_delivery", {
        p_user_id: userId,
        p_kind: kind,
      });
      return "pending";
    },`,
    }],
    suites: [...FAULTS.suites, ...FLOW],
    env: FAULTS.env,
  },
  {
    name: "trial offer skipped for about half the users",
    patches: [{
      file: ONBOARDING,
      find:
        `if (current?.deleted) return deliver(deps, "trial_offer", user.id, "user was deleted");`,
      replace:
        `if (current?.deleted || user.id.charCodeAt(user.id.length - 1) % 2 === 0) return deliver(deps, "trial_offer", user.id, "user was deleted");`,
    }],
    ...FAULTS,
  },
  {
    name: "cancelOn removed from onboarding-emails",
    patches: [{
      file: ONBOARDING,
      find: `      cancelOn: [{ event: userDeleted, match: "data.id" }],\n`,
      replace: "",
    }],
    suites: FLOW,
  },
  {
    name: "idempotency removed from onboarding-emails",
    patches: [{ file: ONBOARDING, find: `      idempotency: "event.data.id",\n`, replace: "" }],
    suites: FLOW,
  },
  {
    name: "throttle removed from onboarding-emails",
    patches: [{
      file: ONBOARDING,
      find: `      throttle: { limit: deps.maxSendsPerSecond, period: "1s" },\n`,
      replace: "",
    }],
    suites: FLOW,
  },
  {
    name: "concurrency removed from sync-user-from-clerk",
    patches: [{
      file: SYNC,
      find: `      concurrency: { key: "event.data.id", limit: 1 },\n`,
      replace: "",
    }],
    suites: FLOW,
  },
  {
    name: "retries removed from sync-user-from-clerk",
    patches: [{ file: SYNC, find: `      retries: 10,\n`, replace: "" }],
    suites: FLOW,
  },
  {
    name: "409 invalid_idempotent_request mapped to a permanent failure",
    patches: [{
      file: "functions/email/resend_mailer.ts",
      find: `if (status === 409 && name === "invalid_idempotent_request") return "already_sent";`,
      replace: `if (status === 409 && name === "invalid_idempotent_request") return "permanent";`,
    }],
    suites: FLOW,
  },
  {
    name: "RetryAfterError replaced by a plain error (retry-after ignored)",
    patches: [{
      file: "functions/inngest/step_errors.ts",
      find:
        "      return new RetryAfterError(message, error.retryAfterMs ?? rateLimitWaitMs, { cause: error });",
      replace: "      return new Error(message, { cause: error });",
    }],
    suites: [...FLOW, "tests/provider_failure_test.ts"],
  },
  {
    name: "the recipient's address logged when an email is sent",
    patches: [{
      file: "functions/email/deliver.ts",
      find: `  log.info("Email sent", {\n    status,`,
      replace: `  log.info("Email sent", {\n    to: request.message.to,\n    status,`,
    }],
    suites: ["tests/onboarding_test.ts", "tests/logs_test.ts"],
  },
  {
    name: "webhook answers 200 before Inngest accepted the event",
    patches: [
      {
        file: "functions/http/webhook.ts",
        find: `    await sendWithDeadline(\n      () => options.send(event, body.length),`,
        replace: `    void sendWithDeadline(\n      () => options.send(event, body.length),`,
      },
      {
        file: "functions/http/webhook.ts",
        find: `      () => logger.child(ids),\n      options.unreachableHint,\n    );`,
        replace:
          `      () => logger.child(ids),\n      options.unreachableHint,\n    ).catch(() => {});`,
      },
    ],
    suites: ["tests/webhook_test.ts", "tests/event_api_test.ts"],
  },
  {
    name: "reconcile erases absent users without confirming with Clerk",
    patches: [{
      file: "functions/users/reconcile_steps.ts",
      find: `  const answers = await lookUp(ctx.clerk, ids);`,
      replace:
        `  const answers = await lookUp({ ...ctx.clerk, getUser: () => Promise.resolve(null) }, ids);`,
    }],
    suites: ["tests/reconcile_test.ts"],
  },
  {
    name: "/users/me/sync skips the azp check",
    patches: [{
      file: "functions/clerk/session_token.ts",
      find: `if (parties.length && (typeof payload.azp`,
      replace: `if (parties.length < 0 && (typeof payload.azp`,
    }],
    suites: ["tests/me_sync_test.ts", "tests/session_token_test.ts"],
  },
  {
    name: "unsubscribe opts out on GET",
    patches: [{
      file: "functions/deliverability/unsubscribe.ts",
      find: `    if (!isPost) {\n      return unsubscribePage(200,`,
      replace:
        `    if (!isPost) {\n      await (await options.preferences()).optOut(userId, "page");\n      return unsubscribePage(200,`,
    }],
    suites: ["tests/unsubscribe_test.ts"],
  },
  {
    name: "the local-only webhook secret accepted in cloud mode",
    patches: [{
      file: "functions/settings/deployment.ts",
      find:
        `if (!secrets.includes(LOCAL_ONLY_SECRETS[name]) || devModeAllowed(env)) return undefined;`,
      replace: `if (!secrets.includes(LOCAL_ONLY_SECRETS[name]) || true) return undefined;`,
    }],
    suites: ["tests/security_test.ts"],
  },
  {
    name: "newsletter subscribes without consent",
    patches: [{
      file: "functions/newsletter/consent.ts",
      find: "return parsed.success && parsed.data.unsafe_metadata?.newsletter === true;",
      replace: "return parsed.success;",
    }],
    suites: [NEWSLETTER],
  },
  {
    name: "newsletter ignores an opt-out (an old true re-subscribes)",
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find: "    and v_given > coalesce(p.newsletter_opt_out_at, '-infinity'::timestamptz);",
      replace: "    and true;",
    }],
    suites: [NEWSLETTER],
  },
  {
    name: "Mailchimp webhook without its secret",
    patches: [{
      file: "functions/newsletter/mailchimp_webhook.ts",
      find: "if (!secret || !(await isOneOf(secret, options.secrets))) {",
      replace: "if (false && !(await isOneOf(secret, options.secrets))) {",
    }],
    suites: [NEWSLETTER],
  },
  {
    name: "/health ignores the migrations the database lacks",
    patches: [{
      file: "functions/health/readiness.ts",
      find: `    if (missing.length) {`,
      replace: `    if (missing.length < 0) {`,
    }],
    suites: ["tests/health_schema_test.ts"],
  },
  {
    name: "the on-demand sync waits in the reconcile's lane of the Clerk budget",
    patches: [{
      file: "functions/users/me_sync.ts",
      find: `getUser(id, { priority: "interactive" })`,
      replace: `getUser(id, { priority: "background" })`,
    }],
    suites: ["tests/request_budget_test.ts"],
  },
  {
    name: "the reconcile may take the whole Clerk budget",
    patches: [{
      file: "functions/clerk/request_budget.ts",
      find: `    background: limit - (options.interactiveReserve ?? interactiveReserve(limit)),`,
      replace: `    background: limit,`,
    }],
    suites: ["tests/request_budget_test.ts"],
  },
  {
    name: "a wait on the Clerk budget is not bounded up front",
    patches: [{
      file: "functions/clerk/request_budget.ts",
      find: `      if (waitMs > maxWait[priority]) return`,
      replace: `      if (waitMs < 0) return`,
    }],
    suites: ["tests/request_budget_test.ts"],
  },
  {
    name: "deno task up does not say why a child stopped",
    patches: [{
      file: "scripts/up.ts",
      find: `for (const line of earlyExitReport(early.child, early.status, hint)) say(line);`,
      replace: `void earlyExitReport(early.child, early.status, hint);`,
    }],
    suites: ["tests/up_test.ts"],
  },
  {
    name: "deno task up leaves out where the Inngest CLI's binary comes from",
    patches: [{
      file: "scripts/up.ts",
      find: `const hint = fromNpx ? INNGEST_EXIT_HINT : undefined;`,
      replace: `const hint = undefined;`,
    }],
    suites: ["tests/up_test.ts"],
  },
  {
    name: "organization newest-wins guard removed (an older version overwrites a newer one)",
    patches: [{
      file: ORGS_MIGRATION,
      find: `    where o.deleted_at is null
      and (o.clerk_updated_at is null or o.clerk_updated_at < excluded.clerk_updated_at)
    returning o.id`,
      replace: `    where o.deleted_at is null
    returning o.id`,
    }],
    suites: ["tests/organizations_database_test.ts"],
  },
  {
    name: "membership tombstone guard removed (a late event makes a membership live again)",
    patches: [{
      file: MEMBERSHIPS_CONVERGENCE,
      find: `    where (m.deleted_at is null
        and (excluded.deleted_at is not null`,
      replace: `    where (true
        and (excluded.deleted_at is not null`,
    }],
    suites: ["tests/organizations_database_test.ts"],
  },
  {
    name: "no cascade on organization deletion (its memberships stay live)",
    patches: [{
      file: ORGS_MIGRATION,
      find: `   where o.id = any(v_ids)
     and o.deleted_at is not null`,
      replace: `   where false and o.id = any(v_ids)
     and o.deleted_at is not null`,
    }],
    suites: ["tests/organizations_database_test.ts"],
  },
  {
    name: "organizations readable by any signed-in user (member-only read policy opened)",
    patches: [{
      file: PRIVATE_HELPERS,
      find:
        `  using (deleted_at is null and id in (select clerk_events.member_organization_ids()));`,
      replace: `  using (deleted_at is null);`,
    }],
    suites: ["tests/organizations_database_test.ts"],
  },
  {
    name: "docs: the database hint points at a heading that does not exist",
    patches: [{
      file: "functions/app/readiness.ts",
      find: `(docs/local-development.md#without-docker)`,
      replace: `(docs/local-development.md#local-development-without-docker)`,
    }],
    suites: ["tests/docs_links_test.ts"],
  },
  {
    name: "docs: a heading that links and code point at is renamed",
    patches: [{
      file: "docs/local-development.md",
      find: `\n## Without Docker\n`,
      replace: `\n## Without Docker, with a hosted project\n`,
    }],
    suites: ["tests/docs_links_test.ts"],
  },
  {
    name: "no idempotency key on the Stripe creates",
    patches: [
      {
        file: "functions/stripe_trial/stripe_sdk.ts",
        find: `        }, { idempotencyKey });\n        return { id: customer.id };`,
        replace: `        });\n        return { id: customer.id };`,
      },
      {
        file: "functions/stripe_trial/stripe_sdk.ts",
        find: `        }, { idempotencyKey });\n        return {\n          id: subscription.id,`,
        replace: `        });\n        return {\n          id: subscription.id,`,
      },
    ],
    suites: ["tests/stripe_trial_test.ts"],
  },
  {
    name: "no deletion at Stripe on user.deleted",
    patches: [{
      file: "functions/stripe_trial/delete_stripe_customer.ts",
      find: `async () => ({ outcome: await (await deps.stripe()).deleteCustomer(customerId) }),`,
      replace: `async () => ({ outcome: "skipped" }),`,
    }],
    suites: ["tests/stripe_trial_test.ts"],
  },
  {
    name: "creates a Stripe customer for a deleted user",
    patches: [{
      file: "functions/stripe_trial/start_stripe_trial.ts",
      find: `if (state.deleted && !retry) return { outcome: "user_deleted", customerId: null };`,
      replace: ``,
    }],
    suites: ["tests/stripe_trial_test.ts"],
  },
  {
    name: "/users/me/sync reads the memberships only after the user",
    patches: [{
      file: "functions/users/me_sync.ts",
      find:
        `      listed = options.memberships && askClerk(id, () => options.memberships!.list(id));
      listed?.catch(() => {}); // awaited below, or dropped with the user's 404
      const user = await fromClerk(id);`,
      replace: `      const user = await fromClerk(id);
      listed = options.memberships && askClerk(id, () => options.memberships!.list(id));
      listed?.catch(() => {});`,
    }],
    suites: ["tests/organizations_me_sync_test.ts"],
  },
  {
    name: "a feature imports a value of another feature",
    patches: [{
      file: "functions/onboarding/feature.ts",
      find: `import { EMAIL_DEFAULTS } from "../settings/email.ts";`,
      replace: `import { EMAIL_DEFAULTS } from "../settings/email.ts";
import { toUserRow } from "../users/user_row.ts";
export const reachedIn = toUserRow;`,
    }],
    suites: ["tests/architecture_test.ts"],
  },
  {
    name: "Stripe reads a 401 as permanent (a key rotation drops trials)",
    patches: [{
      file: "functions/stripe_trial/stripe_sdk.ts",
      find: `  let kind: StripeFailureKind = failureKind(status);`,
      replace:
        `  let kind: StripeFailureKind = status === 401 ? "permanent" : failureKind(status);`,
    }],
    suites: ["tests/provider_failure_test.ts"],
  },
  {
    name: "a route is served although a settings group it needs is invalid",
    patches: [{
      file: "functions/app/compose.ts",
      find: `  const problems = unavailable(settings, route.needs);`,
      replace: `  const problems = undefined as string | undefined;`,
    }],
    suites: ["tests/app_wiring_test.ts"],
  },
  {
    name: "the Inngest client's headers are recomputed on every send",
    patches: [{
      file: "functions/inngest/client.ts",
      find: `  Object.defineProperty(client, "headers", { value: client.headers });`,
      replace: ``,
    }],
    suites: ["tests/inngest_sdk_contract_test.ts"],
  },
  {
    // Bug a's fix is that "no consent" is a state too: recorded, it makes an
    // older consent lose. Recording only consents brings the bug back.
    name: 'convergence a: a "no consent" state is not recorded, so an older consent wins',
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find: `  insert into public.newsletter_consent_states (user_id, at, consent)
    values (p_user_id, p_at, p_consent)
    on conflict (user_id, at) do nothing;`,
      replace: `  insert into public.newsletter_consent_states (user_id, at, consent)
    select p_user_id, p_at, p_consent where p_consent
    on conflict (user_id, at) do nothing;`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence h: one-click leaves the newsletter only when the provider knew the user",
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find: `    where user_id = p_user_id and newsletter_erased_at is null;
  end if;`,
      replace: `    where user_id = p_user_id and newsletter_erased_at is null
      and newsletter_address is not null;
  end if;`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence d: a deleted user's address is kept until the provider removed it",
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find: `  update public.email_preferences set
    newsletter_address = null,
    newsletter_wanted_address = null,`,
      replace: `  update public.email_preferences set
    newsletter_wanted_address = null,`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence k: a tombstone made by the reconcile leaves the newsletter address",
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find: `  when (new.deleted_at is not null)
  execute function public.newsletter_erase_deleted_user();`,
      replace: `  when (false)
  execute function public.newsletter_erase_deleted_user();`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence e: a membership ended because a list omitted it is never revived",
    patches: [{
      file: MEMBERSHIPS_CONVERGENCE,
      find: `      or (m.ended_by_absence and excluded.deleted_at is null
        and m.clerk_updated_at <= excluded.clerk_updated_at)`,
      replace: `      or (false and excluded.deleted_at is null)`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence f: writers of one membership pair run without the per-pair lock",
    patches: [{
      file: MEMBERSHIPS_CONVERGENCE,
      find: `  perform pg_advisory_xact_lock(k.key)`,
      replace: `  perform k.key`,
    }, {
      file: MEMBERSHIPS_CONVERGENCE,
      find:
        `  exclude using btree (organization_id with =, user_id with =) where (deleted_at is null)
  deferrable initially deferred;`,
      replace: `  check (true);`,
    }],
    suites: CONVERGENCE,
    // The race shows only with concurrent connections.
    env: { TEST_DATABASE_URL: "postgresql://postgres:postgres@127.0.0.1:5432/postgres" },
  },
  {
    name: "convergence g: the shared classifier gives up on a refused key at once",
    patches: [{
      file: "functions/inngest/step_errors.ts",
      find:
        `      return new RetryAfterError(\`\${message} (the key may be mid-rotation)\`, AUTH_RETRY_MS, {
        cause: error,
      });`,
      replace: `      return new NonRetriableError(message, { cause: error });`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence j: the reconcile leaves the newsletter's consent alone",
    patches: [{
      file: "functions/app.ts",
      find: `        ...optional(newsletter.reconcile),\n`,
      replace: ``,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence l: no sweep deletes the Stripe customer of a user deleted without a webhook",
    patches: [{
      file: "functions/stripe_trial/feature.ts",
      find: `      createStripeCustomerSweepFunction(client, deps),\n`,
      replace: ``,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence m: a repeated one-click keeps the first newsletter opt-out time",
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find: `      newsletter_unsubscribe_pending = true,
      updated_at = now()
    where user_id = p_user_id and newsletter_erased_at is null;`,
      replace: `      newsletter_unsubscribe_pending = true,
      updated_at = now()
    where user_id = p_user_id and newsletter_erased_at is null
      and newsletter_opt_out_at is null;`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence o: the reconcile asks no payer whose subscription is missing or stale",
    patches: [{
      file: "supabase/migrations/20261206140000_billing_convergence.sql",
      find: `   where s.payer is null
      or (s.version < p.newest and`,
      replace: `   where false
      and (s.version < p.newest and`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "billing: the item upsert writes whatever arrives last",
    patches: [{
      file: BILLING_MIGRATION,
      find: `    where excluded.clerk_updated_at > t.clerk_updated_at\n`,
      replace: `    where true\n`,
    }],
    suites: [BILLING_DATABASE],
  },
  {
    name: "billing: rows versioned by when they are processed, not by Clerk's updated_at",
    patches: [{
      file: BILLING_ROWS,
      find: `  return new Date(updatedAt ?? fallback).toISOString();`,
      replace: `  return new Date().toISOString();`,
    }],
    suites: [BILLING_LIFE],
  },
  {
    name: "billing: pastDue stored as Clerk spelled it",
    patches: [{
      file: BILLING_ROWS,
      find: `  return status.replace(/[A-Z]/g, (letter) => \`_\${letter.toLowerCase()}\`);`,
      replace: `  return status;`,
    }],
    suites: [BILLING_LIFE],
  },
  {
    name: "billing: subscriptionItem.past_due (the old spelling) no longer declared",
    patches: [{
      file: "functions/clerk_billing/events.ts",
      find: `  "subscriptionItem.past_due",\n`,
      replace: ``,
    }],
    suites: [BILLING_WEBHOOK],
  },
  {
    name: "billing: a canceled plan is cut off on the day of the cancellation",
    patches: [{
      file: PRIVATE_HELPERS,
      find: `         or (i.status = 'canceled' and i.period_end > now())\n`,
      replace: ``,
    }],
    suites: [BILLING_DATABASE, BILLING_LIFE],
  },
  {
    name: "billing: the tables accept both payer columns set",
    patches: [{
      file: BILLING_MIGRATION,
      find: `  constraint billing_subscription_items_one_payer check (
    num_nonnulls(payer_user_id, payer_organization_id) = 1
    and coalesce(payer_user_id, payer_organization_id) <> ''
  ),`,
      replace: ``,
    }],
    suites: [BILLING_DATABASE],
  },
  {
    name: "billing: Clerk's empty payer id counts as an id",
    patches: [
      {
        file: "functions/clerk/billing_schemas.ts",
        find: `  const organizationId = payer?.organization_id || undefined;`,
        replace: `  const organizationId = payer?.organization_id ?? undefined;`,
      },
      {
        file: "functions/clerk/billing_schemas.ts",
        find: `  if (userId && !organizationId) return { userId };`,
        replace: `  if (userId && organizationId === undefined) return { userId };`,
      },
    ],
    suites: [BILLING_WEBHOOK],
  },
  {
    name: "billing: the payment attempt keeps the payer beside its failure reason",
    patches: [{
      file: BILLING_ROWS,
      find: `      ? { code: reason.code ?? null, decline_code: reason.decline_code ?? null }`,
      replace:
        `      ? { code: reason.code ?? null, decline_code: reason.decline_code ?? null, ...{ payer: attempt.payer } }`,
    }],
    suites: [BILLING_LIFE],
  },
  {
    name: "billing: the sync log line carries the payer object",
    patches: [{
      file: "functions/clerk_billing/sync_billing.ts",
      find: `  return { payer_user_id: id?.userId, payer_organization_id: id?.organizationId };`,
      replace:
        `  return { payer_user_id: id?.userId, payer_organization_id: id?.organizationId, payer: JSON.stringify(payer) };`,
    }],
    suites: [BILLING_LIFE],
  },
  {
    name: "email.created forwarded to Inngest with its content (no redaction)",
    patches: [{
      file: "functions/auth_emails/redact.ts",
      find: "  for (const field of EMAIL_CONTENT_FIELDS) delete copy[field];\n",
      replace: "",
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "the redacting stage runs only while Clerk's emails are on",
    patches: [{
      file: "functions/auth_emails/feature.ts",
      find: "    webhook: [createAuthEmailStage({ settings: group, ledger, mailer, logger })],",
      replace:
        "    webhook: off ? [] : [createAuthEmailStage({ settings: group, ledger, mailer, logger })],",
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "a Resend 5xx, 429 or timeout answered 2xx",
    patches: [{
      file: AUTH_DELIVERY,
      find: "  const answer = retryAnswer(error);",
      replace: "  if (error) return;\n  const answer = retryAnswer(error);",
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "a new idempotency key for every attempt at Clerk's email",
    patches: [{
      file: AUTH_DELIVERY,
      find: "  return `clerk-email/${svixId}`;",
      replace: "  return `clerk-email/${svixId}/${crypto.randomUUID()}`;",
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "Clerk's email sent although delivered_by_clerk is true",
    patches: [{
      file: AUTH_STAGE,
      find: "      if (email.delivered_by_clerk === true) {",
      replace: "      if (email.delivered_by_clerk === true && !email.delivered_by_clerk) {",
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "Resend given a minute instead of 10 s",
    patches: [{
      file: AUTH_STAGE,
      find: "        deadlineMs: deps.resendDeadlineMs ?? RESEND_DEADLINE_MS,",
      replace: "        deadlineMs: deps.resendDeadlineMs ?? 60_000,",
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "a permanent refusal of Clerk's email answered 5xx",
    patches: [{
      file: AUTH_DELIVERY,
      find: `  if (error instanceof MailerError && error.kind === "permanent") {`,
      replace:
        `  if (error instanceof MailerError && error.kind === "permanent" && error.status === 0) {`,
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "a late retry of Clerk's email sent although the ledger says it went out",
    patches: [{
      file: AUTH_DELIVERY,
      find: `    if (earlier && earlier !== "pending") {`,
      replace: `    if (earlier && earlier !== "pending" && !earlier) {`,
    }],
    suites: AUTH_EMAILS,
  },
  {
    name: "the subject of Clerk's email in a log line",
    patches: [{
      file: AUTH_DELIVERY,
      find: `  log.info("Clerk's email sent through Resend", {`,
      replace: `  log.info("Clerk's email sent through Resend", {\n    subject: message.subject,`,
    }],
    suites: AUTH_EMAILS_PRIVACY,
  },
  {
    name: "the subject of Clerk's email in its ledger row",
    patches: [{
      file: AUTH_DELIVERY,
      find: `  await record({ status: "sent", resendId });`,
      replace: `  await record({ status: "sent", resendId, error: message.subject });`,
    }],
    suites: AUTH_EMAILS_PRIVACY,
  },
  {
    name: "a complaint about one of Clerk's emails opts the user out of marketing",
    patches: [{
      file: "supabase/migrations/20261203120000_auth_emails.sql",
      find: "  if p_opt_out_source is not null and v_kind <> 'auth' then",
      replace: "  if p_opt_out_source is not null and v_user_id is not null then",
    }],
    suites: AUTH_EMAILS_PRIVACY,
  },
  {
    name: "the Inngest send gets a fresh deadline after a slow stage (past Svix's 15 s)",
    patches: [{
      file: "functions/http/webhook.ts",
      find: `      Math.min(deadlineMs, left),`,
      replace: `      deadlineMs + 0 * left,`,
    }],
    suites: ["tests/webhook_budget_test.ts"],
  },
  {
    // Deno 2.9 has Uint8Array.prototype.toBase64 (and the type checks pass);
    // Deno 2.1, what Supabase runs, does not: every suite on 2.9 passes, and
    // only the artifact run on 2.1.4 can catch it.
    name: "an API Deno 2.1 lacks on the unsubscribe path (Uint8Array.prototype.toBase64)",
    patches: [{
      file: "functions/email/unsubscribe_token.ts",
      find: `  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");`,
      replace: `  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });`,
    }],
    suites: [PRODUCTION_RUNTIME],
  },
  {
    name: "item 5: the memberships policy calls a helper on every row",
    patches: [{
      file: PRIVATE_HELPERS,
      find: `    deleted_at is null
    and organization_id in (select clerk_events.member_organization_ids())`,
      replace: `    deleted_at is null
    and public.is_org_member(organization_id)`,
    }],
    suites: ["tests/private_helpers_test.ts"],
  },
  {
    name: "item 5: a writer of organizations still runs as its owner",
    patches: [{
      file: PRIVATE_HELPERS,
      find: `alter function public.upsert_organizations_from_clerk(jsonb) security invoker;\n`,
      replace: ``,
    }],
    suites: ["tests/private_helpers_test.ts"],
  },
  {
    name: "convergence o: a subscription stamped before its items is asked for every night",
    patches: [{
      file: "supabase/migrations/20261206140000_billing_convergence.sql",
      find: ` and coalesce(s.checked, '-infinity'::timestamptz) < p.newest)`,
      replace: `)`,
    }],
    suites: ["tests/clerk_billing_reconcile_test.ts"],
  },
  {
    // Bug c's fix: a withdrawal in Clerk is a state on Clerk's clock, not an
    // opt-out stamped with ours. Stamping it brings back the two clocks.
    name: "convergence c: a withdrawal in Clerk is recorded as an opt-out at processing time",
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find: `    newsletter_consent_at = p_at,
    newsletter_wanted_address = nullif(p_address, ''),`,
      replace: `    newsletter_consent_at = p_at,
    newsletter_opt_out_at = case when p_consent then newsletter_opt_out_at else now() end,
    newsletter_wanted_address = nullif(p_address, ''),`,
    }],
    suites: CONVERGENCE,
  },
  {
    name: "convergence n: the sweep compares Clerk's clock with the time of our last sync",
    patches: [{
      file: NEWSLETTER_CONVERGENCE,
      find:
        `         or e.newsletter_changed_at > coalesce(e.newsletter_synced_at, '-infinity'::timestamptz))`,
      replace:
        `         or e.newsletter_consent_at > coalesce(e.newsletter_synced_at, '-infinity'::timestamptz))`,
    }],
    suites: CONVERGENCE,
  },
  {
    // Bugs b and i: a run that carries what it planned into a later step
    // acts on it after a newer event completed. The fix reads, acts and
    // records in one step; this puts the read in a step of its own again.
    name: "convergence b: the newsletter run plans in one step and acts in the next",
    patches: [{
      file: "functions/newsletter/newsletter_subscription.ts",
      find:
        `      const outcome = await step.run("sync-provider", () => syncProvider(deps, id, names));`,
      replace: `      const planned = await step.run("plan", () =>
        stored(deps, "plan", async (s) => JSON.stringify(await s.wanted(id))));
      const outcome = await step.run("sync-provider", () =>
        syncProvider(deps, id, names, planned));`,
    }, {
      file: "functions/newsletter/newsletter_subscription.ts",
      find: `  names: Names | undefined,
): Promise<string> {`,
      replace: `  names: Names | undefined,
  planned?: string,
): Promise<string> {`,
    }, {
      file: "functions/newsletter/newsletter_subscription.ts",
      find: `  const wanted = await db((s) => s.wanted(userId));`,
      replace: `  const wanted = planned
    ? JSON.parse(planned) as Awaited<ReturnType<NewsletterStore["wanted"]>>
    : await db((s) => s.wanted(userId));`,
    }],
    suites: CONVERGENCE,
  },
];
