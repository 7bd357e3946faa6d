/**
 * Benchmark 10: Clerk's own emails. How long a code takes from the webhook
 * request leaving Svix to the send arriving at Resend (p50, p99), and until
 * the webhook's answer; and, in the same run, that ingress of every other
 * event type is unchanged by the feature being on.
 *
 * The app runs as the entrypoint runs it, in its own process ("ours", with
 * the dev task's V8 flags), twice: with `AUTH_EMAIL_FROM` and without it,
 * the environment otherwise the same. Its ledger writes go through the
 * PostgREST double to the run's PostgreSQL database, and its sends to a
 * Resend stand-in in this process, which notes when each send arrives on
 * the clock the webhook requests were timed with. Emails go one at a time,
 * each a new code under a new svix-id, as sign-ins do; the baseline of the
 * latency is the same email POSTed straight to the stand-in. Ingress is
 * `user.created` under load, alternating the two servers in every round.
 */
import { buildClerkPayload, newMessageId, signDelivery } from "../../scripts/clerk_payloads.ts";
import { connect } from "../support/database.ts";
import { clerkPayload, signHeaders } from "../support/clerk.ts";
import { TEST_SERVICE_KEY, testEnv } from "../support/env.ts";
import { startPostgrestDouble } from "../support/postgrest_double.ts";
import { percentile, runLoad } from "./_load.ts";
import { type Server, spawnServer, waitUntilAnswering } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** How benchmark 10 runs. */
export interface AuthEmailsBenchOptions {
  readonly eventApiUrl: string;
  /** Rounds, each of `emails` codes and one ingress load per server. */
  readonly rounds: number;
  readonly emails: number;
  readonly ingressMs: number;
  readonly concurrency: number;
  readonly progress: (line: string) => void;
}

/** Per round: p50 and p99 of each measure. */
interface Percentiles {
  readonly p50: number[];
  readonly p99: number[];
}

/** The options `deno task bench` runs benchmark 10 with. */
export function authEmailsBenchOptions(
  quick: boolean,
  eventApiUrl: string,
  progress: (line: string) => void,
): AuthEmailsBenchOptions {
  return {
    eventApiUrl,
    rounds: quick ? 2 : 5,
    emails: quick ? 50 : 200,
    ingressMs: quick ? 1500 : 2500,
    concurrency: 32,
    progress,
  };
}

const percentiles = (): Percentiles => ({ p50: [], p99: [] });
const note = (into: Percentiles, samples: number[]) => {
  samples.sort((a, b) => a - b);
  into.p50.push(percentile(samples, 0.5));
  into.p99.push(percentile(samples, 0.99));
};

/** Runs benchmark 10 and returns its rows. */
export async function authEmailsBenchmark(options: AuthEmailsBenchOptions): Promise<Row[]> {
  const sql = await connect();
  const postgrest = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY });
  const arrivals = new Map<string, number>();
  const resend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const at = performance.now();
    await req.arrayBuffer();
    const key = req.headers.get("idempotency-key") ?? `bare-${crypto.randomUUID()}`;
    arrivals.set(key, at);
    return Response.json({ id: crypto.randomUUID() });
  });
  const resendUrl = `http://127.0.0.1:${resend.addr.port}`;
  const base = testEnv({
    INNGEST_EVENT_API_BASE_URL: options.eventApiUrl,
    SUPABASE_URL: postgrest.url,
    RESEND_BASE_URL: resendUrl,
  });
  const env = (extra: Record<string, string>) =>
    Object.fromEntries(
      Object.entries({ ...base, ...extra })
        .filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
  const on = spawnServer("ours", {
    env: env({ AUTH_EMAIL_FROM: "Acme <auth@acme.example>" }),
    clearEnv: true,
    label: "ours, Clerk's emails on",
  });
  const off = spawnServer("ours", { env: env({}), clearEnv: true, label: "ours, off" });
  try {
    const webhook = (server: Server) => `${server.url}/clerk-events/webhook`;
    const ingressBody = JSON.stringify(clerkPayload("user.created"));
    const ingressHeaders = { "content-type": "application/json", ...signHeaders(ingressBody) };
    for (const server of [on, off]) {
      await waitUntilAnswering(
        () =>
          fetch(webhook(server), { method: "POST", headers: ingressHeaders, body: ingressBody }),
        performance.now(),
      );
    }

    /** Sends one new code to `on`; returns [to Resend, to the answer] in ms. */
    const sendCode = async (): Promise<[number, number]> => {
      const body = JSON.stringify(buildClerkPayload("email.created"));
      const id = newMessageId();
      const headers = {
        "content-type": "application/json",
        ...signDelivery(body, String(base.CLERK_WEBHOOK_SIGNING_SECRET), { id }),
      };
      const started = performance.now();
      const res = await fetch(webhook(on), { method: "POST", headers, body });
      await res.arrayBuffer();
      const answered = performance.now();
      const arrived = arrivals.get(`clerk-email/${id}`);
      if (res.status !== 200 || arrived === undefined) {
        throw new Error(
          `Cannot benchmark Clerk's emails: answered ${res.status}, sent: ${!!arrived}`,
        );
      }
      arrivals.delete(`clerk-email/${id}`);
      return [arrived - started, answered - started];
    };
    /** The same email straight to the stand-in: the floor of any send. */
    const sendBare = async (): Promise<number> => {
      const body = JSON.stringify({ from: "a@acme.example", to: "b@example.com", subject: "s" });
      const key = `bare-${crypto.randomUUID()}`;
      const started = performance.now();
      const res = await fetch(`${resendUrl}/emails`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body,
      });
      await res.arrayBuffer();
      const arrived = arrivals.get(key)!;
      arrivals.delete(key);
      return arrived - started;
    };

    const first = await sendCode();
    options.progress(
      `Clerk's emails: the first after start reached Resend in ${first[0].toFixed(1)} ms ` +
        `(loads resend and supabase-js)`,
    );
    for (let i = 0; i < 20; i++) await Promise.all([sendCode(), sendBare()]);

    const toResend = percentiles();
    const toAnswer = percentiles();
    const floor = percentiles();
    const ingress = new Map<Server, { rps: number[]; p50: number[]; p99: number[] }>(
      [on, off].map((server) => [server, { rps: [], p50: [], p99: [] }]),
    );
    for (let round = 1; round <= options.rounds; round++) {
      const resendSamples: number[] = [];
      const answerSamples: number[] = [];
      const floorSamples: number[] = [];
      for (let i = 0; i < options.emails; i++) {
        const [resent, answered] = await sendCode();
        resendSamples.push(resent);
        answerSamples.push(answered);
        floorSamples.push(await sendBare());
      }
      note(toResend, resendSamples);
      note(toAnswer, answerSamples);
      note(floor, floorSamples);
      options.progress(
        `Clerk's emails round ${round}: to Resend p50 ${toResend.p50.at(-1)!.toFixed(2)} ms, ` +
          `p99 ${toResend.p99.at(-1)!.toFixed(2)} ms; answered p50 ` +
          `${toAnswer.p50.at(-1)!.toFixed(2)} ms (${options.emails} codes)`,
      );
      const pair = round % 2 ? [on, off] : [off, on];
      for (const server of pair) {
        const result = await runLoad({
          url: webhook(server),
          headers: ingressHeaders,
          body: ingressBody,
          concurrency: options.concurrency,
          durationMs: options.ingressMs,
          maxRequests: 500_000,
        });
        if (result.errors) {
          throw new Error(`Cannot benchmark ${server.label}: ${result.firstError}`);
        }
        const runs = ingress.get(server)!;
        runs.rps.push(result.requestsPerSecond);
        runs.p50.push(result.p50Ms);
        runs.p99.push(result.p99Ms);
        options.progress(
          `ingress round ${round} ${server.label}: ${num()(result.requestsPerSecond)} req/s, ` +
            `p99 ${result.p99Ms.toFixed(2)} ms`,
        );
      }
    }

    const bare = "the same email straight to the stand-in";
    const c = options.concurrency;
    return [
      compare(
        "10. Clerk's email, webhook to Resend p50, ms",
        toResend.p50,
        floor.p50,
        num(2),
        undefined,
        bare,
      ),
      compare(
        "10. Clerk's email, webhook to Resend p99, ms",
        toResend.p99,
        floor.p99,
        num(2),
        // A code should leave well inside the second Svix gives the first attempt.
        { on: "ours", op: "<=", value: 100, unit: "ms" },
        bare,
      ),
      compare(
        "10. Clerk's email, webhook answered (ledger row and Inngest included) p50, ms",
        toAnswer.p50,
        toResend.p50,
        num(2),
        undefined,
        "to Resend",
      ),
      compare(
        "10. Clerk's email, webhook answered p99, ms",
        toAnswer.p99,
        toResend.p99,
        num(2),
        undefined,
        "to Resend",
      ),
      {
        figure: "10. Clerk's email, the first after start reached Resend, ms",
        ours: num(1)(first[0]),
        baseline: "n/a",
        ratio: "n/a",
        target: "information",
      },
      compare(
        `10. Ingress of user.created with Clerk's emails on, req/s (c=${c})`,
        ingress.get(on)!.rps,
        ingress.get(off)!.rps,
        num(),
        { on: "ratio", op: ">=", value: 0.9 },
        "off",
      ),
      compare(
        `10. Ingress of user.created with Clerk's emails on, p99 ms (c=${c})`,
        ingress.get(on)!.p99,
        ingress.get(off)!.p99,
        num(2),
        { on: "ratio", op: "<=", value: 1.1 },
        "off",
      ),
    ];
  } finally {
    await Promise.all([on.stop(), off.stop()]);
    await resend.shutdown();
    await postgrest.close();
    await sql.end();
  }
}
