/**
 * Turns an email's copy into the subject, HTML and text that are sent.
 */
import type { Brand, EmailContent, RenderedEmail } from "./email.ts";
import { renderHtml } from "./layout.ts";
import { renderText } from "./plain_text.ts";

/** Renders `content` under `brand` as both parts of one email. */
export function renderEmail(content: EmailContent, brand: Brand): RenderedEmail {
  return {
    subject: content.subject,
    html: renderHtml(content, brand),
    text: renderText(content),
  };
}
