/**
 * Benchmark 8: the organizations part of `reconcile-users-with-clerk`
 * against a plain script.
 *
 * The Clerk Backend API stand-in serves N organizations and 10 N
 * memberships shaped like real ones (`{data, total_count}` pages, the
 * organization embedded in each membership). "Ours" is the app in its own
 * process, driven through `/inngest` step by step as Inngest Cloud would,
 * writing through supabase-js and the PostgREST double (the users table is
 * empty, so the user steps cost one request). The baseline pages the same
 * stand-in and writes each page with one plain `INSERT ... ON CONFLICT`
 * (the same newest-wins condition) over a direct connection, and does
 * nothing else: no tombstones, no cascade, no seen ids.
 *
 * Runs: fill empty tables; then, after 1% of the organizations and
 * memberships changed in Clerk and 0.1% were deleted, again (ours also
 * confirms and tombstones them; the baseline cannot). Rows per second
 * count organizations and memberships listed. Peak memory (VmHWM) of ours
 * is read from a fresh process at a tenth of the size and at the full size.
 *
 *   deno run --allow-all tests/bench/run.ts --only organizations
 */
import postgres from "postgres";
import { RECONCILE_FUNCTION_ID } from "../../functions/reconcile/reconcile_function.ts";
import { toMembershipRow, toOrganizationRow } from "../../functions/organizations/rows.ts";
import type {
  ClerkOrganization,
  ClerkOrganizationMembership,
} from "../../functions/clerk/organization_schemas.ts";
import {
  type ClerkApi,
  clerkMembership,
  clerkOrganization,
  startClerkApi,
  TEST_CLERK_SECRET_KEY,
} from "../support/clerk_api.ts";
import { testDatabase } from "../support/database.ts";
import { TEST_SERVICE_KEY, TEST_SIGNING_KEY, testEnv } from "../support/env.ts";
import { driveRun } from "../support/inngest_cloud.ts";
import { startPostgrestDouble } from "../support/postgrest_double.ts";
import { type Server, spawnServer, waitUntilAnswering } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** How the benchmark runs. */
export interface OrganizationsReconcileBenchOptions {
  /** Organizations at full size (memberships: ten times as many). */
  readonly organizations: number;
  /** Rounds of each way; the median counts. */
  readonly rounds: number;
  readonly progress: (line: string) => void;
}

const PAGE = 500;
const MEMBERS_PER_ORG = 10;
const BASE_TIME = Date.UTC(2025, 0, 1);

interface Timed {
  readonly seconds: number;
  readonly rows: number;
  readonly requests: number;
}

/** Runs the benchmark and returns its rows. */
export async function organizationsReconcileBenchmark(
  options: OrganizationsReconcileBenchOptions,
): Promise<Row[]> {
  const db = await testDatabase();
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  const double = startPostgrestDouble({ sql, serviceKey: TEST_SERVICE_KEY });
  const clerk = startClerkApi({ rateLimit: undefined });
  clerk.rateLimit = undefined;
  double.failCall = () => {
    double.calls.length = 0;
    return false;
  };
  const rows: Row[] = [];
  const empty = () =>
    sql`truncate public.users, public.organizations, public.organization_memberships,
                 public.clerk_sync_runs cascade`;
  const ours = async () => {
    const server = await startOurs(clerk, double.url);
    try {
      const run = await timed(clerk, () => oursRun(server));
      return { ...run, peakMb: await server.peakRssMb() };
    } finally {
      await server.stop();
    }
  };
  const plain = () => timed(clerk, () => plainRun(sql, clerk.url));
  const n = options.organizations;
  const label = `${num()(n)} organizations and ${num()(n * MEMBERS_PER_ORG)} memberships`;
  try {
    // A tenth of the size first, for the peak memory of a fresh process.
    seed(clerk, 0, n / 10);
    await empty();
    const small = await ours();
    options.progress(`reconcile organizations, a tenth: peak ${num(1)(small.peakMb)} MB`);
    seed(clerk, n / 10, n);

    const fill = { ours: [] as number[], plain: [] as number[] };
    let fillRequests = { ours: 0, plain: 0 };
    let peakLarge = 0;
    for (let round = 0; round < options.rounds; round++) {
      for (const way of round % 2 ? ["plain", "ours"] as const : ["ours", "plain"] as const) {
        await empty();
        const run = way === "ours" ? await ours() : await plain();
        if ("peakMb" in run) peakLarge = Math.max(peakLarge, run.peakMb as number);
        fill[way].push(run.rows / run.seconds);
        fillRequests = { ...fillRequests, [way]: run.requests };
        options.progress(
          `reconcile fill ${label}, ${way}: ${num()(run.rows / run.seconds)} rows/s`,
        );
      }
    }

    // 1% changed and 0.1% deleted in Clerk, spread evenly.
    await sql`drop table if exists bench_orgs_snapshot, bench_memberships_snapshot`;
    await sql`create table bench_orgs_snapshot as select * from public.organizations`;
    await sql`create table bench_memberships_snapshot as select * from public.organization_memberships`;
    const restore = async () => {
      await empty();
      await sql`insert into public.organizations select * from bench_orgs_snapshot`;
      await sql`insert into public.organization_memberships
                select * from bench_memberships_snapshot`;
    };
    const orgIds = [...clerk.organizations()].map((o) => o.id).sort();
    orgIds.forEach((id, i) => {
      if (i % 100 === 7) clerk.updateOrganization(id, { name: "Changed" });
      if (i % 1000 === 3) clerk.deleteOrganization(id);
    });
    const membershipIds = [...clerk.memberships()].map((m) => m.id).sort();
    membershipIds.forEach((id, i) => {
      if (i % 100 === 7) clerk.updateMembership(id, { role: "org:admin" });
      if (i % 1000 === 3) clerk.deleteMembership(id);
    });
    const rerun = { ours: [] as number[], plain: [] as number[] };
    let rerunRequests = { ours: 0, plain: 0 };
    let outcome = "";
    for (let round = 0; round < options.rounds; round++) {
      for (const way of round % 2 ? ["plain", "ours"] as const : ["ours", "plain"] as const) {
        await restore();
        const run = way === "ours" ? await ours() : await plain();
        rerun[way].push(run.rows / run.seconds);
        rerunRequests = { ...rerunRequests, [way]: run.requests };
        if (way === "ours") {
          const [r] = await sql`
            select organizations_updated, organizations_tombstoned, memberships_updated,
                   memberships_tombstoned
              from public.clerk_sync_runs order by started_at desc limit 1`;
          outcome = `orgs ${r.organizations_updated} updated, ${r.organizations_tombstoned} ` +
            `tombstoned; memberships ${r.memberships_updated} updated, ` +
            `${r.memberships_tombstoned} tombstoned`;
        }
        options.progress(
          `reconcile rerun ${label}, ${way}: ${num()(run.rows / run.seconds)} rows/s`,
        );
      }
    }
    await sql`drop table bench_orgs_snapshot, bench_memberships_snapshot`;

    const baseline = "plain page + INSERT ... ON CONFLICT";
    rows.push(
      compare(
        `8. Reconcile organizations into empty tables, rows/s (${label})`,
        fill.ours,
        fill.plain,
        num(),
        { on: "ratio", op: ">=", value: 0.5 },
        baseline,
      ),
      compare(
        `8. Reconcile organizations again, 1% changed and 0.1% deleted, rows/s (${label}; ours: ${outcome})`,
        rerun.ours,
        rerun.plain,
        num(),
        { on: "ratio", op: ">=", value: 0.5 },
        baseline,
      ),
      {
        figure: `8. Clerk requests of an organizations reconcile of ${label} (fill / rerun)`,
        ours: `${fillRequests.ours} / ${rerunRequests.ours}`,
        baseline: `${fillRequests.plain} / ${rerunRequests.plain} (plain, lists only)`,
        ratio: "n/a",
        target: "information",
      },
      compare(
        `8. Peak RSS of the function during an organizations reconcile, MB (VmHWM; ${label} ` +
          `vs a tenth)`,
        peakLarge,
        small.peakMb,
        num(1),
        { on: "ratio", op: "<=", value: 1.25 },
        "a tenth of the rows",
      ),
    );
  } finally {
    await double.close();
    await clerk.close();
    await sql.end();
  }
  return rows;
}

/** Puts organizations `from` to `to` (and their members) into the stand-in. */
function seed(clerk: ClerkApi, from: number, to: number) {
  for (let i = from; i < to; i++) {
    const org = clerkOrganization({
      id: `org_rb${String(i).padStart(7, "0")}`,
      createdAt: BASE_TIME + i * 100,
    });
    clerk.putOrganization(org);
    for (let j = 0; j < MEMBERS_PER_ORG; j++) {
      clerk.putMembership(clerkMembership({
        id: `orgmem_rb${String(i * MEMBERS_PER_ORG + j).padStart(8, "0")}`,
        organization: org,
        userId: `user_rb${String(i * 7 + j).padStart(8, "0")}`,
        role: j === 0 ? "org:admin" : "org:member",
        createdAt: BASE_TIME + i * 100 + j + 1,
      }));
    }
  }
}

async function startOurs(clerk: ClerkApi, supabaseUrl: string) {
  const env = testEnv({
    SUPABASE_URL: supabaseUrl,
    CLERK_API_URL: clerk.url,
    CLERK_API_REQUEST_BUDGET: "10000/1s",
    CLERK_RECONCILE_CRON: "off",
  });
  const server = spawnServer("ours", {
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
  });
  await waitUntilAnswering(() => fetch(`${server.url}/clerk-events/health`), performance.now());
  await (await fetch(`${server.url}/clerk-events/inngest`)).body?.cancel();
  return server;
}

/** One run of ours; returns the organizations and memberships listed. */
async function oursRun(server: Server): Promise<number> {
  const outcome = await driveRun({
    handler: (req) => fetch(req),
    url: `${server.url}/clerk-events/inngest`,
    functionId: RECONCILE_FUNCTION_ID,
    event: {
      id: crypto.randomUUID(),
      name: "clerk-events/reconcile.requested",
      data: {},
      ts: Date.now(),
    },
    signingKey: TEST_SIGNING_KEY,
    maxAttempts: 20,
    maxRequests: 5_000,
    retryDelayMs: () => 1_000,
  });
  const result = outcome.result as {
    status: string;
    organizations: { listed: number };
    memberships: { listed: number };
  };
  if (result.status !== "succeeded") throw new Error(`Reconcile ended ${result.status}`);
  return result.organizations.listed + result.memberships.listed;
}

/** The baseline: page the stand-in, one INSERT ... ON CONFLICT per page. */
async function plainRun(sql: postgres.Sql, clerkUrl: string): Promise<number> {
  let listed = 0;
  for (const path of ["organizations", "organization_memberships"] as const) {
    for (let offset = 0;; offset += PAGE) {
      const res = await fetch(
        `${clerkUrl}/v1/${path}?limit=${PAGE}&offset=${offset}&order_by=%2Bcreated_at`,
        { headers: { authorization: `Bearer ${TEST_CLERK_SECRET_KEY}` } },
      );
      const page = await res.json() as { data: unknown[]; total_count: number };
      listed += page.data.length;
      if (path === "organizations" && page.data.length) {
        const rows = page.data.map((o) => toOrganizationRow(o as ClerkOrganization));
        await sql`
          insert into public.organizations as o (
            id, name, slug, image_url, public_metadata, created_by, clerk_created_at,
            clerk_updated_at)
          select r.id, r.name, r.slug, r.image_url, r.public_metadata, r.created_by,
                 r.clerk_created_at, r.clerk_updated_at
            from jsonb_to_recordset(${sql.json(rows as never)}) as r(
              id text, name text, slug text, image_url text, public_metadata jsonb,
              created_by text, clerk_created_at timestamptz, clerk_updated_at timestamptz)
          on conflict (id) do update set
            name = excluded.name, slug = excluded.slug, image_url = excluded.image_url,
            public_metadata = excluded.public_metadata,
            clerk_updated_at = excluded.clerk_updated_at, updated_at = now()
          where o.clerk_updated_at < excluded.clerk_updated_at`;
      } else if (page.data.length) {
        const rows = page.data.map((m) => toMembershipRow(m as ClerkOrganizationMembership));
        await sql`
          insert into public.organization_memberships as m (
            id, organization_id, user_id, role, permissions, clerk_created_at, clerk_updated_at)
          select r.id, r.organization_id, r.user_id, r.role, r.permissions,
                 r.clerk_created_at, r.clerk_updated_at
            from jsonb_to_recordset(${sql.json(rows as never)}) as r(
              id text, organization_id text, user_id text, role text, permissions text[],
              clerk_created_at timestamptz, clerk_updated_at timestamptz)
          on conflict (id) do update set
            role = excluded.role, permissions = excluded.permissions,
            clerk_updated_at = excluded.clerk_updated_at, updated_at = now()
          where m.clerk_updated_at < excluded.clerk_updated_at`;
      }
      if (offset + page.data.length >= page.total_count || page.data.length === 0) break;
    }
  }
  return listed;
}

async function timed(clerk: ClerkApi, run: () => Promise<number>): Promise<Timed> {
  const before = clerk.requests.length;
  const started = performance.now();
  const rows = await run();
  const seconds = (performance.now() - started) / 1000;
  const requests = clerk.requests.length - before;
  clerk.requests.length = 0;
  return { seconds, rows, requests };
}
