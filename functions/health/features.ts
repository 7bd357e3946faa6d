/**
 * The optional features and their states, by name, for `/health`'s details:
 * `on`, `off: <why>`, or `invalid` while partly configured (the problems
 * say what is missing). A feature adds its line here, with `describeFeature`
 * (settings/features.ts).
 */
import type { Settings } from "../settings.ts";

/** Every optional feature's state, by name. */
export function optionalFeatures(_settings: Settings): Readonly<Record<string, string>> {
  return {};
}
