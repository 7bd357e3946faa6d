/**
 * `deno task email:preview`: renders both onboarding emails for a sample
 * user into `.email-preview/` (HTML and plain text), to open in a browser.
 *
 * APP_NAME and APP_URL come from the environment or `.env`, like the
 * function's; without them a sample app name and URL are used. Pass a first
 * name as the first argument to see how it renders, e.g.
 * `deno task email:preview '<b>Ada</b>'`.
 *
 * The trial offer carries the unsubscribe link and headers the function
 * would send, signed with PUBLIC_FUNCTION_URL and UNSUBSCRIBE_SECRET when
 * they are set, with a sample URL and a preview-only secret otherwise.
 */
import { createUnsubscribeLinks, listUnsubscribeHeaders } from "../email/list_unsubscribe.ts";
import type { RenderedEmail } from "../email/templates/email.ts";
import { parseUnsubscribeSettings } from "../settings/email_compliance.ts";
import { renderTrialOffer } from "../email/templates/trial_offer.ts";
import { renderWelcome } from "../email/templates/welcome.ts";
import { loadEnv } from "./dotenv.ts";

const { env } = await loadEnv(Deno.env.toObject(), new URL("../../.env", import.meta.url));
const input = {
  appName: env.APP_NAME || "Acme",
  appUrl: env.APP_URL || "https://acme.example",
  firstName: Deno.args[0] ?? "Ada",
};
const unsubscribe = parseUnsubscribeSettings(env);
const unsubscribeUrl = await createUnsubscribeLinks(
  unsubscribe.ok ? unsubscribe.value : {
    publicFunctionUrl: "https://project-ref.supabase.co/functions/v1/clerk-events",
    secrets: ["preview-only-not-a-secret"],
  },
)("user_preview");
const headers: Record<string, Record<string, string>> = {
  trial_offer: listUnsubscribeHeaders(unsubscribeUrl),
};
const outDir = new URL("../../.email-preview/", import.meta.url);
await Deno.mkdir(outDir, { recursive: true });

const emails: Record<string, RenderedEmail> = {
  welcome: renderWelcome(input),
  trial_offer: renderTrialOffer({ ...input, unsubscribeUrl }),
};
for (const [kind, email] of Object.entries(emails)) {
  const html = new URL(`${kind}.html`, outDir);
  await Deno.writeTextFile(html, email.html);
  await Deno.writeTextFile(
    new URL(`${kind}.txt`, outDir),
    [
      `Subject: ${email.subject}`,
      ...Object.entries(headers[kind] ?? {}).map(([name, value]) => `${name}: ${value}`),
      "",
      `${email.text}\n`,
    ].join("\n"),
  );
  console.log(`${kind}: "${email.subject}" -> ${html.pathname}`);
}
