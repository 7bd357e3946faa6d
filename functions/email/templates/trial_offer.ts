/**
 * The trial-offer email, sent ONBOARDING_TRIAL_OFFER_DELAY after sign-up.
 * Commercial: its footer says why it came, carries the postal address, and
 * an unsubscribe link (or, until the caller has one, a `mailto:` to the
 * support address with the subject "Unsubscribe").
 */
import {
  days,
  displayName,
  greeting,
  type Inline,
  postalAddressLine,
  type RenderedEmail,
  supportLink,
  type TemplateInput,
} from "./email.ts";
import { joinedAgo } from "./joined_ago.ts";
import { renderEmail } from "./render.ts";

/** The subject of a `mailto:` unsubscribe request. */
export const UNSUBSCRIBE_SUBJECT = "Unsubscribe";

/** Renders the trial-offer email. */
export function renderTrialOffer(input: TemplateInput): RenderedEmail {
  const name = displayName(input.firstName);
  const app = input.appName;
  const plan = `${app} ${input.copy.trialPlanName}`;
  const length = days(input.copy.trialDays);
  const offer = `try ${plan} free for ${length}`;
  const joined = joinedAgo(input.trialOfferDelay);
  return renderEmail({
    subject: name ? `${name}, ${offer}` : capitalize(offer),
    preheader: `You joined ${app} ${joined}. Every ${plan} feature is yours for ${length}, free.`,
    heading: capitalize(offer),
    paragraphs: [
      [greeting(name)],
      [`You joined ${app} ${joined}, and we hope it is already useful.`],
      [`When you are ready for more, try every ${plan} feature free for ${length}.`],
    ],
    action: { label: "Start your free trial", href: input.copy.upgradeUrl },
    closing: [[`Questions about ${plan}? Write to us at `, supportLink(input), "."]],
    signOff: [`The ${app} team`],
    footer: [
      [
        `You are receiving this email because you signed up for ${app}. `,
        ...unsubscribe(input),
      ],
      postalAddressLine(input),
    ],
  }, { appName: app, logoUrl: input.copy.logoUrl });
}

function unsubscribe(input: TemplateInput): Inline[] {
  if (input.unsubscribeUrl) {
    return [{ text: "Unsubscribe from these emails", href: input.unsubscribeUrl }, "."];
  }
  const link = supportLink(input, UNSUBSCRIBE_SUBJECT);
  return [
    "To stop these emails, write to ",
    link,
    ` with the subject "${UNSUBSCRIBE_SUBJECT}".`,
  ];
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
