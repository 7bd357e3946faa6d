/**
 * What `deno task email:preview` renders: every email in every variant that
 * changes its copy, and an index page that shows them side by side.
 */
import { escapeHtml } from "../functions/email/escape_html.ts";
import {
  type RenderedEmail,
  type TemplateInput,
  templateInput,
} from "../functions/email/templates/email.ts";
import { TEMPLATES } from "../functions/email/templates/by_kind.ts";
import type { EmailSettings } from "../functions/settings.ts";
import type { UnsubscribeSettings } from "../functions/settings/email_compliance.ts";
import { listUnsubscribeHeaders } from "../functions/email/list_unsubscribe.ts";

/** Sample values for the email settings that are not set, so that a fresh clone can preview. */
export const PREVIEW_SAMPLE_ENV: Readonly<Record<string, string>> = {
  APP_NAME: "Acme",
  APP_URL: "https://acme.example",
  EMAIL_FROM: "Acme <hello@acme.example>",
  EMAIL_POSTAL_ADDRESS: "Acme Inc., 548 Market St, San Francisco, CA 94104, USA",
};

/**
 * Unsubscribe settings for previews when PUBLIC_FUNCTION_URL and
 * UNSUBSCRIBE_SECRET are not set: a sample URL and a preview-only secret.
 */
export const PREVIEW_UNSUBSCRIBE: UnsubscribeSettings = {
  publicFunctionUrl: "https://project-ref.supabase.co/functions/v1/clerk-events",
  secrets: ["preview-only-not-a-secret"],
};

/** A first name that is long and full of characters HTML must escape. */
export const LONG_ESCAPED_NAME =
  `Maximiliana-Alexandrine <b>"Zoë"</b> O'Brien & Montgomery-Fitzwilliam`;

interface Variant {
  readonly id: string;
  readonly label: string;
  readonly firstName: string | null;
  /** Whether the email carries the user's unsubscribe link (and headers). */
  readonly unsubscribe?: boolean;
  /** The emails whose copy this variant changes; all when absent. */
  readonly only?: readonly string[];
  /** The end of a running Stripe trial (ISO 8601). */
  readonly trialEndsAt?: string;
}

const VARIANTS: readonly Variant[] = [
  { id: "first-name", label: "with a first name", firstName: "Ada" },
  { id: "no-name", label: "without a first name", firstName: null },
  { id: "long-name", label: "a long name with characters to escape", firstName: LONG_ESCAPED_NAME },
  {
    id: "unsubscribe-link",
    label: "with the unsubscribe link",
    firstName: "Ada",
    unsubscribe: true,
    only: ["trial_offer"],
  },
  {
    id: "stripe-trial-running",
    label: "while a Stripe trial is running",
    firstName: "Ada",
    unsubscribe: true,
    only: ["trial_offer"],
    trialEndsAt: "2026-12-16T09:30:00.000Z",
  },
];

/** One rendered email in one variant. */
export interface Preview {
  /** File name without extension, e.g. `trial_offer-no-name`. */
  readonly name: string;
  readonly kind: string;
  readonly variant: string;
  readonly input: TemplateInput;
  readonly email: RenderedEmail;
}

/**
 * Renders every email in every variant with `settings`; `unsubscribeUrl` is
 * the signed link the function would put in the trial offer.
 */
export function renderPreviews(settings: EmailSettings, unsubscribeUrl: string): Preview[] {
  return Object.entries(TEMPLATES).flatMap(([kind, render]) =>
    VARIANTS.filter((variant) => !variant.only || variant.only.includes(kind)).map((variant) => {
      const input = templateInput(settings, {
        firstName: variant.firstName,
        unsubscribeUrl: variant.unsubscribe ? unsubscribeUrl : undefined,
        trialEndsAt: variant.trialEndsAt,
      });
      return {
        name: `${kind}-${variant.id}`,
        kind,
        variant: variant.label,
        input,
        email: render(input),
      };
    })
  );
}

/**
 * The text file of one preview: the subject and the headers the function
 * would send (List-Unsubscribe when there is a link), then the text part.
 */
export function previewText({ email, input }: Pick<Preview, "email" | "input">): string {
  const headers = input.unsubscribeUrl ? listUnsubscribeHeaders(input.unsubscribeUrl) : {};
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\n`).join("");
  return `Subject: ${email.subject}\n${lines}\n${email.text}`;
}

/** The index page: each preview's subject, HTML and text side by side. */
export function previewIndex(previews: readonly Preview[]): string {
  const rows = previews.map((p) => {
    const name = escapeHtml(p.name);
    return `<section>
  <h2>${escapeHtml(p.kind)}, ${escapeHtml(p.variant)}</h2>
  <p class="subject">Subject: <strong>${escapeHtml(p.email.subject)}</strong></p>
  <div class="pair">
    <iframe src="${name}.html" title="${name}.html"></iframe>
    <pre>${escapeHtml(p.email.text)}</pre>
  </div>
  <p><a href="${name}.html">${name}.html</a> · <a href="${name}.txt">${name}.txt</a></p>
</section>`;
  }).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Email previews</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 24px; background: #fafafa; color: #222; }
  section { margin: 0 0 48px; }
  .pair { display: flex; gap: 16px; align-items: stretch; }
  iframe { width: 640px; height: 700px; border: 1px solid #ccc; background: #fff; flex: none; }
  pre { flex: 1; margin: 0; padding: 16px; border: 1px solid #ccc; background: #fff;
        white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
</style>
</head>
<body>
<h1>Email previews</h1>
${rows}
</body>
</html>
`;
}
