/**
 * What every template takes and returns, and the shape of an email's copy.
 *
 * A template only writes copy, as plain strings, into {@link EmailContent};
 * `layout.ts` turns it into HTML (escaping every string) and
 * `plain_text.ts` into the text part, so both carry the same words and the
 * same links.
 */
import type { EmailSettings } from "../../settings.ts";
import type { EmailCopySettings } from "../../settings/email_copy.ts";

/** The values a template may use. Any of them may come from a user. */
export interface TemplateInput {
  readonly appName: string;
  readonly appUrl: string;
  /** ONBOARDING_TRIAL_OFFER_DELAY: how long ago the user joined when the trial offer goes out. */
  readonly trialOfferDelay: string;
  readonly copy: EmailCopySettings;
  /** Clerk's first name, or null. */
  readonly firstName: string | null;
  /**
   * The user's one-click unsubscribe link, for the trial offer: marketing
   * email must show it. Without it, the footer offers a `mailto:` to the
   * support address with the subject "Unsubscribe".
   */
  readonly unsubscribeUrl?: string;
  /**
   * When the user's Stripe trial ends (ISO 8601), while one is running: the
   * trial offer then says so instead of offering a trial.
   */
  readonly trialEndsAt?: string;
}

/** A rendered email. */
export interface RenderedEmail {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

/** Plain text, or a link with its text. Never HTML: the layout escapes it. */
export type Inline = string | { readonly text: string; readonly href: string };

/** A paragraph: runs of text and links. */
export type Paragraph = readonly Inline[];

/** The copy of one email, in plain strings. */
export interface EmailContent {
  readonly subject: string;
  /** The line inboxes show after the subject. */
  readonly preheader: string;
  readonly heading: string;
  readonly paragraphs: readonly Paragraph[];
  /** The one call to action, shown as a button. */
  readonly action: { readonly label: string; readonly href: string };
  /** Paragraphs after the button. */
  readonly closing: readonly Paragraph[];
  /** Lines after those, e.g. "The Acme team". */
  readonly signOff: readonly string[];
  /** Small print: why the email came, how to manage email, the postal address. */
  readonly footer: readonly Paragraph[];
}

/** The brand shown above the copy. */
export interface Brand {
  readonly appName: string;
  readonly logoUrl?: string;
}

/** Builds a template's input from the email settings and one recipient. */
export function templateInput(
  settings: Pick<EmailSettings, "appName" | "appUrl" | "trialOfferDelay" | "copy">,
  recipient: {
    readonly firstName: string | null;
    readonly unsubscribeUrl?: string;
    readonly trialEndsAt?: string;
  },
): TemplateInput {
  return {
    appName: settings.appName,
    appUrl: settings.appUrl,
    trialOfferDelay: settings.trialOfferDelay,
    copy: settings.copy,
    firstName: recipient.firstName,
    ...(recipient.unsubscribeUrl ? { unsubscribeUrl: recipient.unsubscribeUrl } : {}),
    ...(recipient.trialEndsAt ? { trialEndsAt: recipient.trialEndsAt } : {}),
  };
}

/** Longest first name used as given; longer ones are cut with an ellipsis. */
export const MAX_NAME_LENGTH = 40;

/**
 * The first name to address someone by, or null when there is none.
 * Control and direction-changing characters become spaces (a name must not
 * break a subject line or reorder it), runs of spaces become one, and a
 * name longer than {@link MAX_NAME_LENGTH} characters is shortened.
 */
export function displayName(firstName: string | null): string | null {
  const cleaned = (firstName ?? "")
    .replace(/[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069\s]+/gu, " ")
    .trim();
  if (!cleaned) return null;
  const chars = Array.from(cleaned);
  if (chars.length <= MAX_NAME_LENGTH) return cleaned;
  return chars.slice(0, MAX_NAME_LENGTH - 1).join("").trimEnd() + "…";
}

/** "Hi Ada," or, without a name, "Hello,". */
export function greeting(name: string | null): string {
  return name ? `Hi ${name},` : "Hello,";
}

/** "1 day", "14 days". */
export function days(count: number): string {
  return count === 1 ? "1 day" : `${count} days`;
}

/** A `mailto:` link to the support address, its text the address itself. */
export function supportLink(input: TemplateInput, subject?: string): Inline {
  const query = subject ? `?subject=${encodeURIComponent(subject)}` : "";
  return { text: input.copy.supportEmail, href: `mailto:${input.copy.supportEmail}${query}` };
}

/** The sender's postal address as one footer paragraph. */
export function postalAddressLine(input: TemplateInput): Paragraph {
  return [input.copy.postalAddress.join(", ")];
}
