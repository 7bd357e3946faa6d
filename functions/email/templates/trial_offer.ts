/**
 * The trial-offer email, sent after the onboarding delay (3 days by default).
 */
import { escapeHtml } from "../escape_html.ts";
import { greetingName, htmlFrame, type RenderedEmail, type TemplateInput } from "./email.ts";

/** Renders the trial-offer email. */
export function renderTrialOffer(input: TemplateInput): RenderedEmail {
  const name = greetingName(input.firstName);
  const upgradeUrl = new URL("/upgrade", input.appUrl).href;
  return {
    subject: `${name}, try ${input.appName} Pro free for 14 days`,
    text: [
      `Hi ${name},`,
      "",
      `You have been using ${input.appName} for a few days. Want more?`,
      "Try every Pro feature free for 14 days, no card needed.",
      `Start your trial: ${upgradeUrl}`,
      "",
      `The ${input.appName} team`,
      ...(input.unsubscribeUrl ? ["", `Unsubscribe: ${input.unsubscribeUrl}`] : []),
    ].join("\n"),
    html: htmlFrame(input, [
      `Hi ${escapeHtml(name)},`,
      `You have been using ${escapeHtml(input.appName)} for a few days. Want more?`,
      "Try every Pro feature free for 14 days, no card needed.",
      ...(input.unsubscribeUrl
        ? [
          `Don't want these emails? <a href="${escapeHtml(input.unsubscribeUrl)}">Unsubscribe</a>.`,
        ]
        : []),
    ], { label: "Start your free trial", href: upgradeUrl }),
  };
}
