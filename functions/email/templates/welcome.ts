/**
 * The welcome email, sent right after sign-up. Transactional: its footer
 * carries the postal address and the support address.
 */
import {
  displayName,
  greeting,
  postalAddressLine,
  type RenderedEmail,
  supportLink,
  type TemplateInput,
} from "./email.ts";
import { renderEmail } from "./render.ts";

/** Renders the welcome email. */
export function renderWelcome(input: TemplateInput): RenderedEmail {
  const name = displayName(input.firstName);
  const app = input.appName;
  return renderEmail({
    subject: name ? `${name}, welcome to ${app}` : `Welcome to ${app}`,
    preheader: `Your ${app} account is ready. Here is where to start.`,
    heading: `Welcome to ${app}`,
    paragraphs: [
      [greeting(name)],
      [`Thanks for signing up. Your ${app} account is ready whenever you are.`],
    ],
    action: { label: `Open ${app}`, href: input.appUrl },
    closing: [
      [
        "If you have a question, or something does not work as you expect, write to us at ",
        supportLink(input),
        ".",
      ],
    ],
    signOff: ["Welcome aboard,", `The ${app} team`],
    footer: [
      [
        `You are receiving this email because you signed up for ${app}. Need help? Write to `,
        supportLink(input),
        ".",
      ],
      postalAddressLine(input),
    ],
  }, { appName: app, logoUrl: input.copy.logoUrl });
}
