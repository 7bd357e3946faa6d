/**
 * The small HTML pages of `/clerk-events/unsubscribe`: self-contained (no
 * scripts, no outside resources), not cached, not indexed, and never
 * sending the tokened URL on as a referrer.
 */
import { escapeHtml } from "../email/escape_html.ts";

const HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-robots-tag": "noindex",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
};

/** A page with a title and already-escaped body HTML. */
export function unsubscribePage(status: number, title: string, bodyHtml: string): Response {
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(title)}</title>
  </head>
  <body style="margin:0;padding:24px;background:#f6f6f6;font-family:Helvetica,Arial,sans-serif;color:#222">
    <main style="max-width:480px;margin:40px auto;background:#fff;padding:32px;border-radius:8px">
      <h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(title)}</h1>
      ${bodyHtml}
    </main>
  </body>
</html>`;
  return new Response(html, { status, headers: HEADERS });
}

/** The form the GET page shows: one button that posts the opt-out. */
export function confirmForm(token: string, appName: string | undefined): string {
  const what = appName ? `marketing emails from ${escapeHtml(appName)}` : "marketing emails";
  return `<p style="margin:0 0 24px">Click the button to stop receiving ${what}. You will still get emails about your account.</p>
      <form method="post" action="?token=${escapeHtml(encodeURIComponent(token))}">
        <input type="hidden" name="unsubscribe" value="page">
        <button type="submit" style="background:#111;color:#fff;border:0;padding:12px 20px;border-radius:6px;font-size:16px;cursor:pointer">Unsubscribe</button>
      </form>`;
}
