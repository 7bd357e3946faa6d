/**
 * The provision-account feature: the worked example of docs/extending.md.
 * Like every feature, its folder exports one factory that returns the
 * feature's value: its state for `/health`, the Clerk events it consumes,
 * and its Inngest functions. It is optional: off until `ACCOUNTS_API_URL`
 * is set, and validated at start-up once it is.
 */
import { z } from "zod";
import type { Feature, FeatureContext } from "../../../functions/feature/feature.ts";
import { userCreated } from "../../../functions/inngest/events.ts";
import { isUrl, parseGroup } from "../../../functions/settings/_schema.ts";
import { describeFeature, optionalFeature } from "../../../functions/settings/features.ts";
import { createProvisionAccountFunction } from "./provision_account.ts";

/** Its one setting: where the accounts service is. */
const schema = z.object({
  ACCOUNTS_API_URL: z.string().refine(isUrl, { error: "ACCOUNTS_API_URL must be an http(s) URL" }),
});

/** Builds the feature. */
export function provisionAccountFeature(context: FeatureContext): Feature {
  const settings = optionalFeature(
    context.env,
    ["ACCOUNTS_API_URL"],
    (env) => parseGroup(schema, env, (value) => ({ accountsUrl: value.ACCOUNTS_API_URL })),
  );
  const on = settings.ok ? settings.value : undefined;
  return {
    name: "provision_account",
    optional: true,
    state: settings.ok
      ? describeFeature(settings, "ACCOUNTS_API_URL is not set")
      : `invalid: ${settings.problems.join("; ")}`,
    events: [userCreated],
    functions: (client) =>
      on
        ? [createProvisionAccountFunction(client, {
          accountsUrl: on.accountsUrl,
          logger: context.logger,
          fetch: context.fetch,
        })]
        : [],
  };
}
