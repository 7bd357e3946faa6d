/**
 * A local stand-in for the part of Mailchimp's Marketing API that the
 * newsletter uses: one audience's members, addressed by the MD5 of the
 * lower-cased address.
 *
 * - `PUT /3.0/lists/{list}/members/{hash}`: adds with `status_if_new`, or
 *   updates an existing member without touching its status (unless
 *   `status` is given); the hash must match `email_address`.
 * - `PATCH` the same path: changes `email_address` (the member's hash
 *   changes with it), `status` or `merge_fields`; 404 for an unknown member.
 *   Like Mailchimp, it refuses `subscribed` for a member who unsubscribed
 *   (400 "Member In Compliance State"): only `pending` brings them back.
 * - `POST …/members/{hash}/actions/delete-permanent`: 204, and the address
 *   is forgotten for good (a later PUT as `subscribed` is refused, 400
 *   "Forgotten Email Not Subscribed").
 * - Basic auth with the API key; 401 otherwise.
 *
 * It does not do the work it checks: `received` records every request as it
 * arrived (method, path, parsed body) with the status answered, faults
 * included. `fault` injects 429 with `retry-after`, or 500, per request.
 */
import { createHash } from "node:crypto";

/** A member as the stand-in stores it. */
export interface Member {
  email_address: string;
  status: string;
  merge_fields: Record<string, string>;
}

/** One request as it arrived, and its answer. */
export interface MailchimpRequest {
  readonly n: number;
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown> | null;
  status: number;
}

/** A fault for one request. */
export type MailchimpFault = { status: 429; retryAfterSeconds?: number } | { status: 500 };

/** A running stand-in. */
export interface MailchimpApi {
  /** The value for `MAILCHIMP_API_URL`. */
  readonly url: string;
  readonly apiKey: string;
  readonly audienceId: string;
  /** Members by hash. */
  readonly members: Map<string, Member>;
  readonly received: MailchimpRequest[];
  /** Most requests in flight at once. */
  maxInFlight: number;
  fault: (n: number, req: { method: string; path: string }) => MailchimpFault | undefined;
  /** Milliseconds each answer waits (to see concurrency). */
  delayMs: number;
  /** Answers one request in process, as the server would (no socket). */
  readonly handle: (req: Request) => Promise<Response>;
  close(): Promise<void>;
}

/** MD5 of the lower-cased address, as Mailchimp computes it. */
export function md5Hash(email: string): string {
  return createHash("md5").update(email.toLowerCase()).digest("hex");
}

/** Starts the stand-in on a free loopback port. */
export function startMailchimpApi(
  options: { apiKey?: string; audienceId?: string; now?: () => number } = {},
): MailchimpApi {
  const now = options.now ?? Date.now;
  const apiKey = options.apiKey ?? "0123456789abcdef0123456789abcdef-us21";
  const audienceId = options.audienceId ?? "a1b2c3d4e5";
  const forgotten = new Set<string>();
  let inFlight = 0;
  const api: MailchimpApi = {
    url: "",
    apiKey,
    audienceId,
    members: new Map(),
    received: [],
    maxInFlight: 0,
    fault: () => undefined,
    delayMs: 0,
    handle: (req) => handle(req),
    close: () => server.shutdown(),
  };
  const problem = (record: MailchimpRequest, status: number, title: string, headers = {}) => {
    record.status = status;
    return Response.json({ type: "about:blank", title, status, detail: title }, {
      status,
      headers,
    });
  };
  const handle = async (req: Request): Promise<Response> => {
    inFlight += 1;
    api.maxInFlight = Math.max(api.maxInFlight, inFlight);
    try {
      const path = new URL(req.url).pathname;
      const text = await req.text();
      const record: MailchimpRequest = {
        n: api.received.length + 1,
        at: now(),
        method: req.method,
        path,
        body: text ? JSON.parse(text) : null,
        status: 0,
      };
      api.received.push(record);
      if (api.delayMs) await new Promise((r) => setTimeout(r, api.delayMs));
      if (req.headers.get("authorization") !== `Basic ${btoa(`clerk-events:${apiKey}`)}`) {
        return problem(record, 401, "API Key Invalid");
      }
      const fault = api.fault(record.n, record);
      if (fault?.status === 429) {
        return problem(record, 429, "Too Many Requests", {
          ...(fault.retryAfterSeconds === undefined
            ? {}
            : { "retry-after": String(fault.retryAfterSeconds) }),
        });
      }
      if (fault?.status === 500) return problem(record, 500, "Internal Server Error");
      const match =
        /^\/3\.0\/lists\/([^/]+)\/members\/([0-9a-f]{32})(\/actions\/delete-permanent)?$/
          .exec(path);
      if (!match || match[1] !== audienceId) return problem(record, 404, "Resource Not Found");
      const [, , hash, deletePermanent] = match;
      const body = (record.body ?? {}) as {
        email_address?: string;
        status?: string;
        status_if_new?: string;
        merge_fields?: Record<string, string>;
      };
      const member = api.members.get(hash);
      const answer = (m: Member) => {
        record.status = 200;
        return Response.json({ id: md5Hash(m.email_address), ...m });
      };
      if (deletePermanent && req.method === "POST") {
        if (!member) return problem(record, 404, "Resource Not Found");
        api.members.delete(hash);
        forgotten.add(hash);
        record.status = 204;
        return new Response(null, { status: 204 });
      }
      if (req.method === "PUT") {
        if (!body.email_address || md5Hash(body.email_address) !== hash) {
          return problem(record, 400, "Invalid Resource");
        }
        if (!member) {
          const status = body.status ?? body.status_if_new;
          if (!status) return problem(record, 400, "Invalid Resource");
          if (forgotten.has(hash) && status === "subscribed") {
            return problem(record, 400, "Forgotten Email Not Subscribed");
          }
          const created = { email_address: body.email_address, status, merge_fields: {} };
          Object.assign(created.merge_fields, body.merge_fields ?? {});
          api.members.set(hash, created);
          return answer(created);
        }
        if (body.status === "subscribed" && member.status === "unsubscribed") {
          return problem(record, 400, "Member In Compliance State");
        }
        if (body.status) member.status = body.status;
        Object.assign(member.merge_fields, body.merge_fields ?? {});
        return answer(member);
      }
      if (req.method === "PATCH") {
        if (!member) return problem(record, 404, "Resource Not Found");
        if (body.status === "subscribed" && member.status === "unsubscribed") {
          return problem(record, 400, "Member In Compliance State");
        }
        if (body.email_address && md5Hash(body.email_address) !== hash) {
          const target = md5Hash(body.email_address);
          if (api.members.has(target)) return problem(record, 400, "Member Exists");
          api.members.delete(hash);
          member.email_address = body.email_address;
          api.members.set(target, member);
        }
        if (body.status) member.status = body.status;
        Object.assign(member.merge_fields, body.merge_fields ?? {});
        return answer(member);
      }
      if (req.method === "GET") {
        return member ? answer(member) : problem(record, 404, "Resource Not Found");
      }
      return problem(record, 405, "Method Not Allowed");
    } finally {
      inFlight -= 1;
    }
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}/3.0`;
  return api;
}
