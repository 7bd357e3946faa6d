/**
 * The email copy settings: what the onboarding emails say and link to,
 * besides `APP_NAME`, `APP_URL` and `ONBOARDING_TRIAL_OFFER_DELAY`.
 *
 * They belong to the email group: a problem here disables the onboarding
 * emails only, like a missing `RESEND_API_KEY`. Only `EMAIL_POSTAL_ADDRESS`
 * is required, because a commercial email must carry the sender's postal
 * address (CAN-SPAM); every other one has a default.
 */
import { z } from "zod";
import { type Env, optional } from "./_schema.ts";

/** What the email copy reads, validated. */
export interface EmailCopySettings {
  /** The sender's postal address, one line per line of the address. */
  readonly postalAddress: readonly string[];
  /** Where people write for help; also how the unsubscribe placeholder works. */
  readonly supportEmail: string;
  /** An https image shown above the copy; without it, APP_NAME as text. */
  readonly logoUrl?: string;
  /** Shown after APP_NAME: "Pro" gives "Acme Pro". */
  readonly trialPlanName: string;
  readonly trialDays: number;
  /** Absolute: UPGRADE_URL given whole, or resolved under APP_URL. */
  readonly upgradeUrl: string;
}

/** The variables of this group, in the order `.env.example` lists them. */
export const EMAIL_COPY_SETTING_NAMES = [
  "EMAIL_POSTAL_ADDRESS",
  "SUPPORT_EMAIL",
  "APP_LOGO_URL",
  "TRIAL_PLAN_NAME",
  "TRIAL_DAYS",
  "UPGRADE_URL",
] as const;

/** Defaults of the optional copy settings. */
export const EMAIL_COPY_DEFAULTS = {
  TRIAL_PLAN_NAME: "Pro",
  TRIAL_DAYS: 14,
  UPGRADE_URL: "upgrade",
} as const;

/** What the copy settings depend on, as the email group parsed them. */
export interface EmailCopyContext {
  /** APP_URL when valid; undefined when the email group reports it. */
  readonly appUrl?: string;
  /** EMAIL_FROM when valid; its address is the default support address. */
  readonly from?: string;
}

const postalAddress = z.string().max(300);
const supportEmail = z.email();
const logoUrl = z.url({ protocol: /^https$/ });
const planName = z.string().max(40).regex(/^[^\r\n<>]*$/);
/**
 * `TRIAL_DAYS`: how long the trial lasts. One setting for the email copy and
 * the Stripe trial (settings/stripe.ts), so that the email never promises
 * another length than the subscription has.
 */
export const TRIAL_DAYS = {
  name: "TRIAL_DAYS",
  schema: z.coerce.number().int().min(1).max(365),
  rule: "must be a whole number of days from 1 to 365",
  /** The raw value, or the default when unset. */
  raw: (env: Env): string => optional(env.TRIAL_DAYS) ?? String(EMAIL_COPY_DEFAULTS.TRIAL_DAYS),
} as const;
const absoluteUrl = z.url({ protocol: /^https?$/ });
/** A scheme such as `https:` or `javascript:` at the start. */
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Parses the copy settings. Returns one problem per bad variable (naming it,
 * never its value), and the settings when there are none.
 */
export function parseEmailCopy(
  env: Env,
  context: EmailCopyContext,
): { problems: string[]; value?: EmailCopySettings } {
  const problems: string[] = [];
  const read = (name: (typeof EMAIL_COPY_SETTING_NAMES)[number]) => optional(env[name]);
  const check = <T>(name: string, schema: z.ZodType<T>, raw: string, rule: string) => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) problems.push(`${name} ${rule}`);
    return parsed.data;
  };

  const rawAddress = read("EMAIL_POSTAL_ADDRESS");
  if (!rawAddress) {
    problems.push(
      "EMAIL_POSTAL_ADDRESS is missing: commercial email must carry the sender's postal address",
    );
  } else check("EMAIL_POSTAL_ADDRESS", postalAddress, rawAddress, "must be at most 300 characters");

  const rawSupport = read("SUPPORT_EMAIL");
  let support: string | undefined;
  if (rawSupport) {
    support = check("SUPPORT_EMAIL", supportEmail, rawSupport, "must be an email address");
  } else if (context.from) {
    support = check(
      "SUPPORT_EMAIL",
      supportEmail,
      fromAddress(context.from),
      "is missing, and the address in EMAIL_FROM cannot stand in for it: set SUPPORT_EMAIL",
    );
  }

  const rawLogo = read("APP_LOGO_URL");
  const logo = rawLogo && check("APP_LOGO_URL", logoUrl, rawLogo, "must be an https URL");

  const plan = check(
    "TRIAL_PLAN_NAME",
    planName,
    read("TRIAL_PLAN_NAME") ?? EMAIL_COPY_DEFAULTS.TRIAL_PLAN_NAME,
    "must be one line of at most 40 characters, without < or >",
  );
  const days = check(TRIAL_DAYS.name, TRIAL_DAYS.schema, TRIAL_DAYS.raw(env), TRIAL_DAYS.rule);

  const rawUpgrade = read("UPGRADE_URL") ?? EMAIL_COPY_DEFAULTS.UPGRADE_URL;
  let upgrade: string | undefined;
  if (SCHEME.test(rawUpgrade)) {
    upgrade = check("UPGRADE_URL", absoluteUrl, rawUpgrade, "must be an http(s) URL");
  } else if (context.appUrl) {
    upgrade = underAppUrl(rawUpgrade, context.appUrl);
  }

  if (problems.length || !support || !upgrade) return { problems };
  return {
    problems,
    value: {
      postalAddress: postalLines(rawAddress!),
      supportEmail: support,
      logoUrl: logo || undefined,
      trialPlanName: plan!,
      trialDays: days!,
      upgradeUrl: upgrade,
    },
  };
}

/**
 * Resolves `reference` under `appUrl`, keeping its path: `upgrade` under
 * `https://acme.example/app` is `https://acme.example/app/upgrade`. A
 * reference that starts with `/` starts from the origin, as in HTML.
 */
export function underAppUrl(reference: string, appUrl: string): string {
  const base = new URL(appUrl);
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  base.search = "";
  base.hash = "";
  return new URL(reference, base).href;
}

/** The address of an `EMAIL_FROM` value: `Acme <hi@acme.example>` gives `hi@acme.example`. */
export function fromAddress(from: string): string {
  return /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from.trim();
}

/** The lines of a postal address: one line, or several separated by newlines. */
function postalLines(raw: string): string[] {
  return raw.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}
