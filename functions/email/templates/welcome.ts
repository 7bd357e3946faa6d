/**
 * The welcome email, sent right after sign-up.
 */
import { escapeHtml } from "../escape_html.ts";
import { greetingName, htmlFrame, type RenderedEmail, type TemplateInput } from "./email.ts";

/** Renders the welcome email. */
export function renderWelcome(input: TemplateInput): RenderedEmail {
  const name = greetingName(input.firstName);
  return {
    subject: `Welcome to ${input.appName}`,
    text: [
      `Hi ${name},`,
      "",
      `Welcome to ${input.appName}! Your account is ready.`,
      `Start here: ${input.appUrl}`,
      "",
      `The ${input.appName} team`,
    ].join("\n"),
    html: htmlFrame(input, [
      `Hi ${escapeHtml(name)},`,
      `Welcome to ${escapeHtml(input.appName)}! Your account is ready.`,
    ], { label: `Open ${input.appName}`, href: input.appUrl }),
  };
}
