/**
 * The trial-offer email, sent ONBOARDING_TRIAL_OFFER_DELAY after sign-up.
 * When a Stripe trial is already running (`trialEndsAt`), it does not offer
 * the trial again: it says the trial is running, when it ends, and links to
 * UPGRADE_URL.
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

/** Renders the trial-offer email, or its running-trial version. */
export function renderTrialOffer(input: TemplateInput): RenderedEmail {
  const name = displayName(input.firstName);
  const app = input.appName;
  const plan = `${app} ${input.copy.trialPlanName}`;
  const length = days(input.copy.trialDays);
  const offer = `try ${plan} free for ${length}`;
  const joined = joinedAgo(input.trialOfferDelay);
  const ends = input.trialEndsAt ? trialEndDate(input.trialEndsAt) : undefined;
  const copy = ends
    ? {
      subject: `${name ? `${name}, your` : "Your"} ${plan} trial runs until ${ends}`,
      preheader: `You joined ${app} ${joined}. Every ${plan} feature is yours until ${ends}.`,
      heading: `Your ${plan} trial is running`,
      paragraphs: [
        [greeting(name)],
        [`You joined ${app} ${joined}, and your free ${plan} trial is running.`],
        [
          `It ends on ${ends}. To keep every ${plan} feature after that, upgrade before then. ` +
          "Without a payment method the trial simply ends, and nothing is charged.",
        ],
      ],
      action: { label: `Upgrade to ${plan}`, href: input.copy.upgradeUrl },
    }
    : {
      subject: name ? `${name}, ${offer}` : capitalize(offer),
      preheader: `You joined ${app} ${joined}. Every ${plan} feature is yours for ${length}, free.`,
      heading: capitalize(offer),
      paragraphs: [
        [greeting(name)],
        [`You joined ${app} ${joined}, and we hope it is already useful.`],
        [`When you are ready for more, try every ${plan} feature free for ${length}.`],
      ],
      action: { label: "Start your free trial", href: input.copy.upgradeUrl },
    };
  return renderEmail({
    ...copy,
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

/** "December 16, 2026": the day the trial ends, in UTC, as Stripe counts it. */
export function trialEndDate(iso: string): string {
  return new Intl.DateTimeFormat("en-US", { dateStyle: "long", timeZone: "UTC" })
    .format(new Date(iso));
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
