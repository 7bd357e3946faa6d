/**
 * `deno task email:preview`: renders both onboarding emails, in every
 * variant that changes their copy, into `.email-preview/` (HTML and text),
 * with an `index.html` that shows them side by side.
 *
 * The email settings come from the environment or `.env`, like the
 * function's, and are validated by the same code: an invalid one prints the
 * same problem the function reports, and exits with status 1. The few that
 * a fresh clone lacks (APP_NAME, APP_URL, EMAIL_FROM, EMAIL_POSTAL_ADDRESS)
 * get sample values, and the command says which. `--out DIR` writes
 * elsewhere.
 *
 * The trial offer carries the unsubscribe link and headers the function
 * would send, signed with PUBLIC_FUNCTION_URL and UNSUBSCRIBE_SECRET when
 * they are set, with a sample URL and a preview-only secret otherwise.
 */
import { createUnsubscribeLinks } from "../functions/email/list_unsubscribe.ts";
import { parseSettings } from "../functions/settings.ts";
import { parseUnsubscribeSettings } from "../functions/settings/email_compliance.ts";
import { envFileNote } from "./env_file.ts";
import {
  PREVIEW_SAMPLE_ENV,
  PREVIEW_UNSUBSCRIBE,
  previewIndex,
  previewText,
  renderPreviews,
} from "./email_preview_pages.ts";

const outIndex = Deno.args.indexOf("--out");
const outDir = outIndex >= 0 && Deno.args[outIndex + 1]
  ? new URL(`${Deno.args[outIndex + 1].replace(/\/?$/, "/")}`, `file://${Deno.cwd()}/`)
  : new URL("../.email-preview/", import.meta.url);

const env = Deno.env.toObject();
const note = await envFileNote();
const sampled = Object.keys(PREVIEW_SAMPLE_ENV).filter((name) => !env[name]?.trim());
const settings = parseSettings({
  ...env,
  ...Object.fromEntries(sampled.map((name) => [name, PREVIEW_SAMPLE_ENV[name]])),
  // Previews never send, so the Resend key is not needed.
  EMAIL_DRY_RUN: "true",
}).email;

console.log(note);
if (!settings.ok) {
  console.error("Cannot render the email previews: the email settings are invalid");
  for (const problem of settings.problems) console.error(`  - ${problem}`);
  Deno.exit(1);
}
if (sampled.length) console.log(`Sample values for: ${sampled.join(", ")}`);

await Deno.mkdir(outDir, { recursive: true });
const unsubscribe = parseUnsubscribeSettings(env);
const unsubscribeUrl = await createUnsubscribeLinks(
  unsubscribe.ok ? unsubscribe.value : PREVIEW_UNSUBSCRIBE,
)("user_preview");
const previews = renderPreviews(settings.value, unsubscribeUrl);
for (const preview of previews) {
  const { name, email } = preview;
  await Deno.writeTextFile(new URL(`${name}.html`, outDir), email.html);
  await Deno.writeTextFile(new URL(`${name}.txt`, outDir), previewText(preview));
  console.log(`${name}: "${email.subject}"`);
}
const index = new URL("index.html", outDir);
await Deno.writeTextFile(index, previewIndex(previews));
console.log(`Open ${index.pathname}`);
