/**
 * What every template takes and returns, and the HTML frame they share.
 */
import { escapeHtml } from "../escape_html.ts";

/** The values a template may use. Every one may come from a user. */
export interface TemplateInput {
  readonly appName: string;
  readonly appUrl: string;
  readonly firstName: string | null;
  /** The one-click unsubscribe link; marketing email must show it. */
  readonly unsubscribeUrl?: string;
}

/** A rendered email. */
export interface RenderedEmail {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

/** The greeting name: the first name, or "there" when Clerk has none. */
export function greetingName(firstName: string | null): string {
  const trimmed = firstName?.trim();
  return trimmed ? trimmed : "there";
}

/**
 * Wraps already-escaped paragraphs and a call to action in a minimal,
 * email-client-safe HTML document. Escapes the app name and URL itself.
 */
export function htmlFrame(
  input: TemplateInput,
  paragraphsHtml: readonly string[],
  action: { label: string; href: string },
): string {
  const app = escapeHtml(input.appName);
  const body = paragraphsHtml.map((p) => `<p style="margin:0 0 16px">${p}</p>`).join("\n      ");
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>${app}</title></head>
  <body style="margin:0;padding:24px;background:#f6f6f6;font-family:Helvetica,Arial,sans-serif;color:#222">
    <div style="max-width:560px;margin:0 auto;background:#fff;padding:32px;border-radius:8px">
      ${body}
      <p style="margin:24px 0"><a href="${
    escapeHtml(action.href)
  }" style="background:#111;color:#fff;padding:12px 20px;border-radius:6px;text-decoration:none">${
    escapeHtml(action.label)
  }</a></p>
      <p style="margin:0;color:#777;font-size:13px">The ${app} team</p>
    </div>
  </body>
</html>`;
}
