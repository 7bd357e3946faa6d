/**
 * The Inngest client of the `clerk-events` app, built from settings.
 */
import { Inngest } from "inngest";
import type { InngestSettings } from "../settings.ts";
import type { Logger } from "../util/log.ts";
import { inngestLogger } from "./logger.ts";
import { InngestUnreachableError } from "./unreachable.ts";

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
    fetch: (input, init) => fetchWithTimeout(baseFetch, timeoutMs, input, init),
  });
  // The SDK reads INNGEST_BASE_URL, INNGEST_EVENT_API_BASE_URL and the rest
  // from this, not from the process environment.
  client.setEnvVars({ ...settings.env });
  // The SDK recomputes its request headers on every send, reading the whole
  // process environment one variable at a time: 38% of the webhook's CPU
  // time in the ingress benchmark. Their inputs are fixed once the client is
  // built, so compute them once.
  Object.defineProperty(client, "headers", { value: client.headers });
  return client;
}

/**
 * `fetch` that aborts after `timeoutMs` (until the response headers arrive)
 * or when the caller's signal aborts. A plain timer and controller: the
 * AbortSignal.timeout/any pair cost about 64 µs per request under load.
 */
async function fetchWithTimeout(
  baseFetch: typeof fetch,
  timeoutMs: number,
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> {
  const controller = new AbortController();
  const abort = () => controller.abort(init?.signal?.reason);
  const timer = setTimeout(
    () => controller.abort(new DOMException(`No answer within ${timeoutMs} ms`, "TimeoutError")),
    timeoutMs,
  );
  init?.signal?.addEventListener("abort", abort, { once: true });
  try {
    return await baseFetch(input, { ...init, signal: controller.signal });
  } catch (error) {
    // An abort is a timeout or the caller's; anything else thrown by fetch
    // means that no answer came at all.
    if (controller.signal.aborted) throw error;
    const url = input instanceof Request ? input.url : String(input);
    throw new InngestUnreachableError(new URL(url).origin, error);
  } finally {
    clearTimeout(timer);
    init?.signal?.removeEventListener("abort", abort);
  }
}

/**
 * Where the SDK sends events with these settings, as it resolves it:
 * INNGEST_EVENT_API_BASE_URL, INNGEST_BASE_URL, INNGEST_DEV as a URL, then
 * the Dev Server's default (dev mode) or Inngest Cloud.
 */
export function eventApiUrl(settings: InngestSettings): string {
  const { env } = settings;
  return env.INNGEST_EVENT_API_BASE_URL ?? env.INNGEST_BASE_URL ?? settings.devServerUrl ??
    (settings.mode === "dev" ? "http://localhost:8288/" : "https://inn.gs/");
}
