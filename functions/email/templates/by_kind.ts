/**
 * Every onboarding email, by kind: the one table the workflow and the
 * previews render from. The workflow imports this module when it first
 * renders an email, so that the templates are not loaded at start-up.
 */
import type { EmailKind } from "../deliveries_store.ts";
import type { RenderedEmail, TemplateInput } from "./email.ts";
import { renderTrialOffer } from "./trial_offer.ts";
import { renderWelcome } from "./welcome.ts";

export { templateInput } from "./email.ts";

/** The template of each kind of email. */
export const TEMPLATES: Readonly<Record<EmailKind, (input: TemplateInput) => RenderedEmail>> = {
  welcome: renderWelcome,
  trial_offer: renderTrialOffer,
};
