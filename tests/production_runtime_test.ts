/**
 * What is deployed, on what runs it: the artifact `deno task build` writes,
 * run by Deno 2.1.4 (the runtime of hosted Supabase Edge Functions, see
 * `scripts/production_deno.ts`) as its own process, and driven end to end
 * over HTTP only: Clerk's signed webhooks, the workflows through the
 * Inngest engine (which reads the registration from that process and plays
 * by its flow control), `/users/me/sync`, one-click unsubscribe, `/health`,
 * the newsletter (Mailchimp) and Stripe trial steps, Clerk's own emails and
 * the Clerk Billing mirror, against the same recording stand-ins as the
 * in-process suites.
 *
 * Development runs Deno 2.9, whose V8 is two years newer: code that uses a
 * language feature or API that 2.1 lacks passes every other suite and fails
 * here (the mutation "an API Deno 2.1 lacks on the unsubscribe path" shows
 * it). Nothing here imports `functions/`: the contract is the HTTP routes
 * and the settings.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type postgres from "postgres";
import { buildFunction, type BuildResult } from "../scripts/build.ts";
import {
  ensureProductionDeno,
  PRODUCTION_DENO_VERSION,
  productionDenoEnv,
} from "../scripts/production_deno.ts";
import { type EntrypointServer, startEntrypoint } from "./support/artifact_server.ts";
import { clerkPayload, newMessageId, newUserId, signedRequest } from "./support/clerk.ts";
import { clerkUser, startClerkApi } from "./support/clerk_api.ts";
import { billingFixture, billingTestId, readItem } from "./support/clerk_billing.ts";
import { AUTH_EMAIL_FROM, codeEmail } from "./support/auth_emails.ts";
import { readPreference } from "./support/email_preferences.ts";
import { assertSafeLogLine, TEST_HEALTH_TOKEN, TEST_SIGNING_KEY, testEnv } from "./support/env.ts";
import { type EventApi, startEventApi } from "./support/event_api.ts";
import type { RunEvent } from "./support/inngest_cloud.ts";
import { type InngestEngine, startInngestEngine } from "./support/inngest_engine.ts";
import { md5Hash, startMailchimpApi } from "./support/mailchimp_api.ts";
import { withPostgrest } from "./support/postgrest.ts";
import { startResendApi } from "./support/resend_api.ts";
import { createTestInstance, mintSessionToken } from "./support/session_tokens.ts";
import { simClock } from "./support/sim_clock.ts";
import { startStripeApi } from "./support/stripe_api.ts";
import { readUser } from "./support/users.ts";

const STRIPE_SECRET_KEY = "sk_test_" + "51production".repeat(3);
const STRIPE_TRIAL_PRICE_ID = "price_1ProductionRuntime";
const MAILCHIMP_WEBHOOK_SECRET = "mailchimp-webhook-secret-" + "2a".repeat(8);
const APP_ORIGIN = "https://acme.test";
const LOAD_TIMEOUT_MS = 60_000;

/** The production Deno, installed on first use. */
const productionDeno = await ensureProductionDeno((line) => console.error(line));
const runtime = { deno: productionDeno, env: productionDenoEnv() };

/** Builds the artifact into a temporary directory for `fn`, then removes it. */
async function withArtifact(fn: (build: BuildResult) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "clerk_events_production_" });
  try {
    await fn(await buildFunction(join(dir, "dist")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(`the runtime these tests use is Deno ${PRODUCTION_DENO_VERSION}, not the one in PATH`, async () => {
  const output = await new Deno.Command(productionDeno, { args: ["--version"] }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.match(text, new RegExp(`^deno ${PRODUCTION_DENO_VERSION.replaceAll(".", "\\.")} `));
  assert.notEqual(Deno.version.deno, PRODUCTION_DENO_VERSION, "the tests themselves run on 2.9");
});

/** Runs the JavaScript file `path` on the production Deno; its output and whether it succeeded. */
async function runOnProduction(path: string): Promise<{ success: boolean; output: string }> {
  const output = await new Deno.Command(productionDeno, {
    args: ["run", "--no-config", "--no-lock", path],
    env: { ...runtime.env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { success: output.success, output: text.trim() };
}

Deno.test("deno task build lowers syntax Deno 2.1 cannot parse, such as a using declaration", async () => {
  const dir = await Deno.makeTempDir({ prefix: "clerk_events_lowering_" });
  try {
    // deno bundle keeps `using` as it is, from TypeScript too (Deno 2.1
    // would lower it in a .ts file it runs itself); Deno 2.9 runs the bundle,
    // 2.1's V8 (13.0) cannot parse it.
    const entry = join(dir, "index.ts");
    await Deno.writeTextFile(
      entry,
      `const state = { disposed: false };
      {
        using _resource = { [Symbol.dispose]() { state.disposed = true; } };
      }
      console.log("disposed: " + state.disposed);\n`,
    );
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=deno", "--outdir", join(dir, "raw"), entry],
    }).output();
    assert.ok(bundled.success, "deno bundle alone");
    const raw = await runOnProduction(join(dir, "raw", "index.js"));
    assert.ok(!raw.success, "deno bundle's own output fails on 2.1");
    assert.match(raw.output, /SyntaxError/);
    const build = await buildFunction(join(dir, "dist"), entry);
    const built = await runOnProduction(build.entry);
    assert.ok(built.success, built.output);
    assert.equal(built.output, "disposed: true");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(`every file of the built artifact loads on Deno ${PRODUCTION_DENO_VERSION}`, async () => {
  await withArtifact(async (build) => {
    // Lazily loaded files (the reconcile, the Stripe SDK, …) are imported
    // too, so that syntax 2.1 cannot parse shows even on a path no test takes.
    const chunks = build.files.filter((file) => file !== "index.js");
    const script = `
      const failed = [];
      for (const file of ${JSON.stringify(chunks)}) {
        try {
          await import(new URL(file, ${JSON.stringify(`file://${build.outDir}/`)}).href);
        } catch (error) {
          failed.push(file + ": " + (error instanceof Error ? error.message : String(error)));
        }
      }
      console.log(JSON.stringify({ loaded: ${chunks.length} - failed.length, failed }));
      Deno.exit(0);`;
    const child = new Deno.Command(productionDeno, {
      args: ["eval", "--no-config", "--no-lock", script],
      env: { ...runtime.env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), LOAD_TIMEOUT_MS);
    const output = await child.output().finally(() => clearTimeout(timer));
    const stdout = new TextDecoder().decode(output.stdout).trim();
    const stderr = new TextDecoder().decode(output.stderr).trim();
    assert.ok(
      output.success,
      `Deno ${PRODUCTION_DENO_VERSION} exited with ${output.code}: ${stderr}`,
    );
    const report = JSON.parse(stdout.split("\n").at(-1) ?? "{}");
    assert.deepEqual(report.failed, [], "files that do not load");
    assert.equal(report.loaded, chunks.length);
  });
});

/** The events the artifact handed to Inngest since the last call, as Inngest passes them on. */
function takeSent(events: EventApi): RunEvent[] {
  return events.accepted.splice(0).map((e) => ({
    id: e.id ?? newMessageId(),
    name: e.name,
    data: e.data,
    ts: e.ts ?? Date.now(),
  }));
}

/** Sends `events` through the engine to the end, and checks every run they started completed. */
async function runToEnd(engine: InngestEngine, events: RunEvent[]): Promise<string[]> {
  const runs = engine.send(...events);
  await engine.runUntilIdle();
  for (const run of runs) {
    assert.equal(run.status, "completed", `${run.functionId} for ${run.event.name}: ${run.reason}`);
  }
  return runs.map((run) => run.functionId).sort();
}

async function json(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`Expected JSON, got ${res.status}: ${text.slice(0, 300)}`);
  }
}

Deno.test(`the deployed artifact on Deno ${PRODUCTION_DENO_VERSION}: a user's whole life, end to end`, async (t) => {
  const acme = await createTestInstance("acme");
  await withPostgrest(async (sql: postgres.Sql, postgrest) => {
    // Simulated time starts now: the trial Stripe ends in 14 simulated days
    // is still running by the real clock the artifact reads.
    const clock = simClock(Date.now());
    const events = startEventApi();
    const resend = startResendApi({ now: clock.now });
    const mailchimp = startMailchimpApi({ now: clock.now });
    const stripe = startStripeApi({ secretKey: STRIPE_SECRET_KEY, now: clock.now });
    const clerk = startClerkApi();
    let server: EntrypointServer | undefined;
    try {
      await withArtifact(async (build) => {
        server = await startEntrypoint(
          build.entry,
          testEnv({
            INNGEST_EVENT_API_BASE_URL: events.url,
            SUPABASE_URL: postgrest.url,
            SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceKey,
            RESEND_BASE_URL: resend.url,
            CLERK_API_URL: clerk.url,
            CLERK_JWT_KEY: acme.publicKeyPem,
            MAILCHIMP_API_KEY: mailchimp.apiKey,
            MAILCHIMP_AUDIENCE_ID: mailchimp.audienceId,
            MAILCHIMP_API_URL: mailchimp.url,
            MAILCHIMP_WEBHOOK_SECRET,
            STRIPE_SECRET_KEY,
            STRIPE_TRIAL_PRICE_ID,
            STRIPE_API_URL: stripe.url,
            AUTH_EMAIL_FROM,
          }),
          runtime,
        );
        const origin = server.origin;
        const url = (route: string) => `${origin}/clerk-events/${route}`;
        const engine = await startInngestEngine({
          handler: (req) => fetch(req),
          url: url("inngest"),
          signingKey: TEST_SIGNING_KEY,
          clock,
        });
        const id = newUserId();
        const email = `${id.toLowerCase()}@example.org`;

        await t.step("/health: ready publicly, and the details with the token", async () => {
          const open = await fetch(url("health"));
          assert.deepEqual(await json(open), { status: "ok" });
          const res = await fetch(url("health"), {
            headers: { authorization: `Bearer ${TEST_HEALTH_TOKEN}` },
          });
          const details = await json(res);
          assert.equal(res.status, 200, JSON.stringify(details));
          assert.equal(details.database, "reachable");
          const features = details.optional_features as Record<string, string>;
          assert.equal(features.newsletter, "on", "the newsletter runs on Mailchimp here");
          assert.equal(features.stripe_trial, "on");
          assert.equal(features.auth_emails, "on");
        });

        await t.step("a signed user.created reaches Inngest under its svix-id", async () => {
          const svixId = newMessageId();
          const payload = clerkPayload("user.created", {
            id,
            email_addresses: [{ id: "idn_primary", email_address: email }],
            primary_email_address_id: "idn_primary",
            unsafe_metadata: { newsletter: true },
            updated_at: Date.now(),
          });
          const res = await fetch(signedRequest(payload, { id: svixId, url: url("webhook") }));
          const body = await json(res);
          assert.equal(res.status, 200, JSON.stringify(body));
          assert.deepEqual(events.accepted.map((e) => [e.id, e.name]), [
            [svixId, "clerk/user.created"],
          ]);
          const forged = await fetch(
            signedRequest(payload, { url: url("webhook"), secret: "whsec_" + btoa("another") }),
          );
          await forged.body?.cancel();
          assert.equal(forged.status, 401, "a wrong signature is refused");
        });

        await t.step("/inngest refuses a call Inngest did not sign", async () => {
          const res = await fetch(`${url("inngest")}?fnId=clerk-events-sync-user-from-clerk`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-inngest-server-kind": "cloud" },
            body: "{}",
          });
          await res.body?.cancel();
          assert.equal(res.status, 401);
        });

        await t.step(
          "its runs finish: the row, both emails, the newsletter and the trial",
          async () => {
            assert.deepEqual(await runToEnd(engine, takeSent(events)), [
              "newsletter-subscription",
              "onboarding-emails",
              "start-stripe-trial",
              "sync-user-from-clerk",
            ]);
            assert.equal((await readUser(sql, id))?.email, email);
            const keys = resend.delivered.map((e) => e.idempotencyKey);
            assert.deepEqual(keys.sort(), [
              `clerk-events/trial_offer/${id}`,
              `clerk-events/welcome/${id}`,
            ]);
            assert.equal(mailchimp.members.get(md5Hash(email))?.status, "subscribed");
            assert.equal(stripe.liveCustomersOf(id).length, 1, "one Stripe customer");
            const customer = stripe.liveCustomersOf(id)[0].id;
            assert.equal(
              [...stripe.subscriptions.values()].filter((s) => s.customer === customer).length,
              1,
              "one trial subscription",
            );
          },
        );

        await t.step(
          "the trial offer's one-click link unsubscribes, and Mailchimp hears of it",
          async () => {
            const offer = resend.delivered.find((e) => e.idempotencyKey?.includes("trial_offer"));
            const link = /^<(.+)>$/.exec(offer?.headers?.["List-Unsubscribe"] ?? "")?.[1];
            assert.ok(link, "the trial offer carries List-Unsubscribe");
            const { pathname, search } = new URL(link);
            const page = await fetch(`${origin}${pathname}${search}`);
            assert.equal(page.status, 200);
            assert.match(page.headers.get("content-type") ?? "", /text\/html/);
            await page.body?.cancel();
            assert.equal(
              (await readPreference(sql, id))?.marketing_opt_out_at ?? null,
              null,
              "GET changes nothing",
            );
            const res = await fetch(`${origin}${pathname}${search}`, {
              method: "POST",
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: "List-Unsubscribe=One-Click",
            });
            await res.body?.cancel();
            assert.equal(res.status, 200);
            assert.equal((await readPreference(sql, id))?.source, "one_click");
            await runToEnd(engine, takeSent(events));
            assert.equal(mailchimp.members.get(md5Hash(email))?.status, "unsubscribed");
          },
        );

        await t.step("/users/me/sync makes a signed-in user's row exist at once", async () => {
          const user = clerkUser({ email: "ada@example.com" });
          clerk.putUser(user);
          const res = await fetch(url("users/me/sync"), {
            method: "POST",
            headers: {
              origin: APP_ORIGIN,
              authorization: `Bearer ${await mintSessionToken(acme, { sub: user.id })}`,
            },
          });
          const body = await json(res);
          assert.equal(res.status, 200, JSON.stringify(body));
          assert.equal(res.headers.get("access-control-allow-origin"), APP_ORIGIN);
          assert.equal(body.outcome, "inserted");
          assert.equal((await readUser(sql, user.id))?.email, "ada@example.com");
        });

        await t.step(
          "Clerk's own email goes out through Resend before the webhook answers",
          async () => {
            const email = codeEmail();
            const svixId = newMessageId();
            const res = await fetch(
              signedRequest(email.payload, { id: svixId, url: url("webhook") }),
            );
            const body = await json(res);
            assert.equal(res.status, 200, JSON.stringify(body));
            const sent = resend.received.filter((r) =>
              r.idempotencyKey === `clerk-email/${svixId}`
            );
            assert.equal(sent.length, 1, "one send, keyed by the svix-id");
            assert.equal(JSON.parse(sent[0].body).from, AUTH_EMAIL_FROM);
            const [event] = takeSent(events);
            assert.equal(event.id, svixId);
            assert.equal(event.data.body, undefined, "the message never reaches Inngest");
          },
        );

        await t.step("a Clerk Billing item is mirrored for plan checks", async () => {
          const itemId = billingTestId("csub_item");
          const payload = billingFixture("subscriptionItem.active", {
            id: itemId,
            updated_at: Date.now(),
          });
          const res = await fetch(signedRequest(payload, { url: url("webhook") }));
          await res.body?.cancel();
          assert.equal(res.status, 200);
          await runToEnd(engine, takeSent(events));
          const item = await readItem(sql, itemId);
          assert.equal(item?.status, "active");
          assert.equal(item?.payer_user_id, "user_2r8TqE1oMy3gTi0Ll4XdNk6YwAf");
        });

        await t.step("user.deleted erases the user, the subscriber and the customer", async () => {
          const res = await fetch(
            signedRequest(clerkPayload("user.deleted", { id }), { url: url("webhook") }),
          );
          await res.body?.cancel();
          assert.equal(res.status, 200);
          await runToEnd(engine, takeSent(events));
          const user = await readUser(sql, id);
          assert.ok(user?.deleted_at, "a tombstone");
          assert.equal(user?.email, null, "without the address");
          assert.equal(mailchimp.members.has(md5Hash(email)), false, "deleted at Mailchimp");
          assert.deepEqual(stripe.liveCustomersOf(id), [], "no Stripe customer survives");
        });
      });
    } finally {
      await server?.stop();
      // Ids only: no address, token or secret in what the deployed code logged.
      for (const line of server?.output().split("\n") ?? []) if (line) assertSafeLogLine(line);
      await Promise.all([
        events.close(),
        resend.close(),
        mailchimp.close(),
        stripe.close(),
        clerk.close(),
      ]);
    }
  });
});
