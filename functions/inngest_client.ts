/**
 * The Inngest client of the `clerk-events` app, built from settings.
 */
import { Inngest } from "inngest";
import type { InngestSettings } from "./settings.ts";
import type { Logger } from "./log.ts";
import { inngestLogger } from "./inngest_logger.ts";

/** The app id that Inngest Cloud and the Dev Server know this app by. */
export const APP_ID = "clerk-events";

/** Options for {@link createInngestClient}. */
export interface InngestClientOptions {
  readonly settings: InngestSettings;
  readonly logger: Logger;
  /**
   * Longest time one HTTP request to Inngest may take before it is aborted.
   * The SDK retries a failed send itself, so this bounds each attempt.
   */
  readonly requestTimeoutMs?: number;
  /** The fetch to use; tests and benchmarks may pass their own. */
  readonly fetch?: typeof fetch;
}

/** Creates the app's Inngest client. */
export function createInngestClient(options: InngestClientOptions): Inngest {
  const { settings } = options;
  const baseFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const client = new Inngest({
    id: APP_ID,
    isDev: settings.mode === "dev",
    eventKey: settings.eventKey,
    signingKey: settings.signingKey,
    signingKeyFallback: settings.signingKeyFallback,
    logger: inngestLogger(options.logger),
    // Each step is its own request from Inngest, the protocol every Inngest
    // server speaks. Checkpointing would run several steps per request and
    // report them to Inngest's API as it goes; with an edge runtime's
    // wall-clock limit, short requests are the safer default.
    checkpointing: false,
    fetch: (input, init) => {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      return baseFetch(input, { ...init, signal });
    },
  });
  // The SDK reads INNGEST_BASE_URL, INNGEST_EVENT_API_BASE_URL and the rest
  // from this, not from the process environment.
  client.setEnvVars({ ...settings.env });
  return client;
}
