/**
 * The newsletter on Mailchimp: a small typed client over `fetch` for the
 * four member calls it needs (docs/newsletter.md says why not the official
 * SDK). Members are addressed by the MD5 of the lower-cased address:
 *
 * - `PUT /lists/{audience}/members/{hash}` subscribes (`status_if_new`,
 *   so that an existing member's status is never changed by accident);
 * - `PATCH` the same path changes the address or the status; Mailchimp
 *   refuses `subscribed` for a member who unsubscribed, so a renewed
 *   consent asks for `pending` (double opt-in);
 * - `POST …/actions/delete-permanent` removes a deleted user for good.
 *
 * Mailchimp answers 429 past 10 concurrent connections; the error carries
 * its `retry-after` (or a default) for the workflow's RetryAfterError.
 * Import it lazily: only workflow steps need it.
 */
import { createHash } from "node:crypto";
import { failureKind, parseRetryAfter } from "../util/provider_failure.ts";
import { type NewsletterContact, type NewsletterProvider, ProviderError } from "./provider.ts";

/** Options for {@link createMailchimpProvider}. */
export interface MailchimpOptions {
  readonly apiKey: string;
  readonly audienceId: string;
  /** e.g. `https://us21.api.mailchimp.com/3.0`, without a trailing slash. */
  readonly apiUrl: string;
  readonly fetch?: typeof fetch;
  /** Bound on each request. Default 20 s. */
  readonly timeoutMs?: number;
}

/** Mailchimp's member statuses. */
export type MemberStatus =
  | "subscribed"
  | "unsubscribed"
  | "cleaned"
  | "pending"
  | "transactional"
  | "archived";

interface Answer {
  readonly status: number;
  readonly json: Record<string, unknown>;
  readonly headers: Headers;
}

/** The subscriber hash of `email`: MD5 of the lower-cased address, in hex. */
export function subscriberHash(email: string): string {
  return createHash("md5").update(email.trim().toLowerCase()).digest("hex");
}

/** A {@link NewsletterProvider} on one Mailchimp audience. */
export function createMailchimpProvider(options: MailchimpOptions): NewsletterProvider {
  const fetcher = options.fetch ?? fetch;
  const auth = `Basic ${btoa(`clerk-events:${options.apiKey}`)}`;
  const member = (email: string) =>
    `/lists/${encodeURIComponent(options.audienceId)}/members/${subscriberHash(email)}`;

  async function call(
    method: string,
    path: string,
    body: unknown,
    action: string,
  ): Promise<Answer> {
    let res: Response;
    try {
      res = await fetcher(`${options.apiUrl}${path}`, {
        method,
        headers: {
          authorization: auth,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
      });
    } catch (error) {
      throw new ProviderError(
        `${action}: Mailchimp did not answer: ${error instanceof Error ? error.name : "error"}`,
        { kind: "transient", status: null },
      );
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = {};
    }
    return { status: res.status, json, headers: res.headers };
  }

  function fail(action: string, answer: Answer): never {
    const title = typeof answer.json.title === "string" ? answer.json.title : "error";
    const kind = failureKind(answer.status);
    throw new ProviderError(`${action}: Mailchimp answered ${answer.status} ${title}`, {
      kind,
      status: answer.status,
      // Mailchimp's 429 may come without retry-after: wait a little anyway.
      retryAfterMs: kind === "rate_limited"
        ? parseRetryAfter(answer.headers.get("retry-after")) ?? 10_000
        : undefined,
    });
  }

  const ok = (status: number) => status >= 200 && status < 300;
  const mergeFields = (contact: NewsletterContact) => ({
    FNAME: contact.firstName ?? "",
    LNAME: contact.lastName ?? "",
  });

  async function put(contact: NewsletterContact, statusIfNew: MemberStatus) {
    return await call("PUT", member(contact.email), {
      email_address: contact.email,
      status_if_new: statusIfNew,
      merge_fields: mergeFields(contact),
    }, "Cannot subscribe to Mailchimp");
  }

  const provider: NewsletterProvider = {
    name: "mailchimp",
    async subscribe(contact, { renewed }) {
      const action = "Cannot subscribe to Mailchimp";
      let answer = await put(contact, "subscribed");
      // An address Mailchimp was told to forget, or one in compliance
      // state, can only come back through double opt-in.
      if (answer.status === 400 && renewed) answer = await put(contact, "pending");
      if (!ok(answer.status)) fail(action, answer);
      const status = answer.json.status as MemberStatus | undefined;
      if (status === "pending") return "pending";
      if (status === "subscribed") return "subscribed";
      if (!renewed) return "kept_unsubscribed";
      const patched = await call("PATCH", member(contact.email), { status: "pending" }, action);
      if (!ok(patched.status)) fail(action, patched);
      return "pending";
    },
    async move(from, contact) {
      const action = "Cannot change the address at Mailchimp";
      const answer = await call("PATCH", member(from), {
        email_address: contact.email,
        merge_fields: mergeFields(contact),
      }, action);
      if (ok(answer.status)) return "moved";
      // The old address is gone (or was never there): subscribe the new one.
      if (answer.status === 404) {
        await provider.subscribe(contact, { renewed: false });
        return "subscribed";
      }
      // Mailchimp refuses (400) to move a member onto an address that is
      // already a member. Rather than read its error's wording, ask whether
      // the new address is a member: if so, subscribe it as it is, and
      // unsubscribe the old one, which Mailchimp keeps.
      if (
        answer.status === 400 &&
        ok((await call("GET", member(contact.email), undefined, action)).status)
      ) {
        await provider.subscribe(contact, { renewed: false });
        await provider.unsubscribe(from);
        return "subscribed";
      }
      fail(action, answer);
    },
    async unsubscribe(email) {
      const action = "Cannot unsubscribe at Mailchimp";
      const answer = await call("PATCH", member(email), { status: "unsubscribed" }, action);
      if (ok(answer.status)) return "unsubscribed";
      if (answer.status === 404) return "not_found";
      fail(action, answer);
    },
    async remove(email) {
      const action = "Cannot delete the member at Mailchimp";
      const answer = await call(
        "POST",
        `${member(email)}/actions/delete-permanent`,
        undefined,
        action,
      );
      if (ok(answer.status)) return "removed";
      if (answer.status === 404) return "not_found";
      fail(action, answer);
    },
  };
  return provider;
}
