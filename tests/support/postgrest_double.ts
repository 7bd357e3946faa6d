/**
 * A test double of PostgREST that answers exactly the requests this project
 * makes through supabase-js, `POST /rest/v1/rpc/<function>`, against the real
 * test database, the way PostgREST does it:
 *
 * - the key in `apikey` / `Authorization: Bearer` picks the database role
 *   (the service key is `service_role`, the anon key is `anon`);
 * - the call runs in a transaction after `set local role` and with the JWT
 *   claims in `request.jwt.claims`, so grants and RLS apply as in Supabase;
 * - the JSON body's keys are the function's named arguments;
 * - errors come back in PostgREST's shape, `{ code, message, details, hint }`,
 *   with its status codes.
 *
 * Anything else gets 404, so a new kind of call fails loudly here instead of
 * silently passing.
 */
import type postgres from "postgres";

/** Options for {@link startPostgrestDouble}. */
export interface PostgrestDoubleOptions {
  readonly sql: postgres.Sql;
  /** The key that acts as `service_role`. */
  readonly serviceKey: string;
  /** The key that acts as `anon`. */
  readonly anonKey?: string;
}

/** One call the double served. */
export interface RpcCall {
  readonly fn: string;
  readonly role: string;
  readonly status: number;
}

/** A running double. */
export interface PostgrestDouble {
  /** The value for `SUPABASE_URL`. */
  readonly url: string;
  readonly calls: RpcCall[];
  /**
   * While set, answers every request the way PostgREST does when it cannot
   * reach the database (503, PGRST000).
   */
  databaseDown: boolean;
  /**
   * Called before each function call; returning true answers that one call
   * as if the connection dropped (503), to simulate a crash mid-step.
   */
  failCall: (fn: string) => boolean;
  /** Answers one request in process, as the server would (no socket). */
  readonly handle: (req: Request) => Promise<Response>;
  close(): Promise<void>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** Starts the double on a free loopback port. */
export function startPostgrestDouble(options: PostgrestDoubleOptions): PostgrestDouble {
  const calls: RpcCall[] = [];
  const double: PostgrestDouble = {
    url: "",
    calls,
    databaseDown: false,
    failCall: () => false,
    handle: (req) => handle(req),
    close: () => server.shutdown(),
  };

  const handle = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    const match = /^\/rest\/v1\/rpc\/([^/]+)$/.exec(path);
    if (req.method !== "POST" || !match) {
      await req.body?.cancel();
      return pgrstError(404, "PGRST125", `Invalid path specified in request URL: ${path}`);
    }
    const fn = match[1];
    const role = roleFor(req, options);
    if (!role) {
      await req.body?.cancel();
      return pgrstError(401, "PGRST301", "JWT could not be decoded");
    }
    if (double.databaseDown || double.failCall(fn)) {
      await req.body?.cancel();
      calls.push({ fn, role, status: 503 });
      return pgrstError(503, "PGRST000", "Could not connect with the database");
    }
    const args = await req.json() as Record<string, unknown>;
    const response = await callFunction(options.sql, role, fn, args);
    calls.push({ fn, role, status: response.status });
    return response;
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  (double as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return double;
}

function roleFor(req: Request, options: PostgrestDoubleOptions): string | undefined {
  const bearer = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
  const key = bearer ?? req.headers.get("apikey") ?? undefined;
  if (key === options.serviceKey) return "service_role";
  if (key === undefined || key === options.anonKey) return "anon";
  return undefined;
}

async function callFunction(
  sql: postgres.Sql,
  role: string,
  fn: string,
  args: Record<string, unknown>,
): Promise<Response> {
  const names = Object.keys(args);
  if (!IDENTIFIER.test(fn) || !names.every((name) => IDENTIFIER.test(name))) {
    return pgrstError(404, "PGRST202", `Could not find the function public.${fn}`);
  }
  const params = names.map((name, i) => `${name} => $${i + 1}`).join(", ");
  const values = names.map((name) => toParameter(args[name]));
  try {
    const rows = await sql.begin(async (tx) => {
      await tx.unsafe(`set local role ${role}`);
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ role })}, true)`;
      return await tx.unsafe(`select public.${fn}(${params}) as result`, values);
    });
    return Response.json(rows[0]?.result ?? null);
  } catch (error) {
    return postgresError(error);
  }
}

function toParameter(value: unknown): postgres.ParameterOrJSON<never> {
  if (value === null || value === undefined) return null;
  // postgres.js sends a boolean argument as true only for `true` itself.
  if (typeof value === "boolean") return value;
  // A JSON object or array goes to a json/jsonb argument, which postgres.js
  // serializes itself: stringified here, it would arrive as a JSON string.
  if (typeof value === "object") return value as postgres.JSONValue;
  return String(value);
}

function postgresError(error: unknown): Response {
  const e = error as { code?: string; message?: string; detail?: string; hint?: string };
  const code = e.code ?? "XX000";
  return pgrstError(statusFor(code), code, e.message ?? String(error), e.detail, e.hint);
}

// PostgREST's mapping from SQLSTATE to HTTP status, for the codes that occur.
function statusFor(code: string): number {
  if (code === "42501") return 403;
  if (code === "42883") return 404;
  if (code === "P0001") return 400;
  if (code.startsWith("23")) return 409;
  if (code.startsWith("22")) return 400;
  if (code.startsWith("08")) return 503;
  return 500;
}

function pgrstError(
  status: number,
  code: string,
  message: string,
  details: string | null = null,
  hint: string | null = null,
): Response {
  return Response.json({ code, message, details: details ?? null, hint: hint ?? null }, { status });
}
