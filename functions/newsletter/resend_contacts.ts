/**
 * The newsletter on Resend's contacts, through the `resend` SDK already
 * used for the emails (same `RESEND_API_KEY`): a contact per subscriber,
 * with `unsubscribed` always explicit, in the newsletter's segment.
 *
 * A contact is looked up by address (`GET /contacts/{email}`) and updated
 * when it exists, never created twice: `POST /contacts` on an existing
 * address would reset what it omits. Import it lazily: only workflow steps
 * need it.
 */
import { Resend } from "resend";
import { failureKind, parseRetryAfter } from "../util/provider_failure.ts";
import { type NewsletterProvider, ProviderError } from "./provider.ts";

/** Options for {@link createResendContactsProvider}. */
export interface ResendContactsOptions {
  readonly apiKey: string;
  readonly segmentId: string;
  /** Defaults to Resend's API; tests point it at a local stand-in. */
  readonly baseUrl?: string;
}

interface SdkAnswer<T> {
  readonly data: T | null;
  readonly error: { statusCode?: number | null; name?: string; message?: string } | null;
  readonly headers: Record<string, string> | null;
}

/**
 * The address as a path segment: the SDK puts it into the URL as given, so
 * characters that would end the path (`/`, `?`, `#`, `%`) are escaped.
 */
export function addressSegment(email: string): string {
  return email.replace(/[/?#%\s]/g, (c) => encodeURIComponent(c));
}

/** A {@link NewsletterProvider} on one Resend segment. */
export function createResendContactsProvider(options: ResendContactsOptions): NewsletterProvider {
  const resend = new Resend(options.apiKey, { baseUrl: options.baseUrl });
  const contacts = resend.contacts;

  function check<T>(action: string, answer: SdkAnswer<T>, allow404 = false): T | "not_found" {
    if (!answer.error) return answer.data as T;
    const status = answer.error.statusCode ?? null;
    if (allow404 && status === 404) return "not_found";
    const kind = failureKind(status);
    throw new ProviderError(
      `${action}: Resend answered ${status ?? "nothing"} ${answer.error.name ?? "error"}`,
      {
        kind,
        status,
        retryAfterMs: kind === "rate_limited"
          ? parseRetryAfter(answer.headers?.["retry-after"]) ?? 1_000
          : undefined,
      },
    );
  }

  const provider: NewsletterProvider = {
    name: "resend",
    async subscribe(contact, { renewed }) {
      const action = "Cannot subscribe with Resend";
      const email = addressSegment(contact.email);
      const found = check(action, await contacts.get({ email }), true);
      if (found === "not_found") {
        check(
          action,
          await contacts.create({
            email: contact.email,
            firstName: contact.firstName ?? undefined,
            lastName: contact.lastName ?? undefined,
            unsubscribed: false,
            segments: [{ id: options.segmentId }],
          }),
        );
        return "subscribed";
      }
      const keep = found.unsubscribed && !renewed;
      check(
        action,
        await contacts.update({
          id: found.id,
          firstName: contact.firstName,
          lastName: contact.lastName,
          unsubscribed: keep,
        }),
      );
      check(
        action,
        await contacts.segments.add({ contactId: found.id, segmentId: options.segmentId }),
      );
      return keep ? "kept_unsubscribed" : "subscribed";
    },
    async move(from, contact) {
      await provider.subscribe(contact, { renewed: false });
      // Resend keys contacts by address: the old one goes, or it would stay
      // behind after the user is deleted.
      check(
        "Cannot remove the old address from Resend",
        await contacts.remove({ email: addressSegment(from) }),
        true,
      );
      return "moved";
    },
    async unsubscribe(email) {
      const answer = check(
        "Cannot unsubscribe with Resend",
        await contacts.update({ email: addressSegment(email), unsubscribed: true }),
        true,
      );
      return answer === "not_found" ? "not_found" : "unsubscribed";
    },
    async remove(email) {
      const answer = check(
        "Cannot remove the contact from Resend",
        await contacts.remove({ email: addressSegment(email) }),
        true,
      );
      return answer === "not_found" ? "not_found" : "removed";
    },
  };
  return provider;
}
