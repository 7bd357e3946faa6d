/**
 * Settings and logs for tests.
 */
import { createLogger, type Logger } from "../../functions/util/log.ts";
import type { Env } from "../../functions/settings.ts";
import { OTHER_SECRET, TEST_SECRET } from "./clerk.ts";
import { TEST_CLERK_SECRET_KEY } from "./clerk_api.ts";

/** The Inngest signing key the tests sign "Inngest Cloud" requests with. */
export const TEST_SIGNING_KEY = "signkey-test-" + "c0ffee".repeat(10) + "abcd";
/** A second key, for rotation tests. */
export const TEST_SIGNING_KEY_FALLBACK = "signkey-test-" + "beef".repeat(16);
/** The unsubscribe secret: base64 of 32 fixed bytes. */
export const TEST_UNSUBSCRIBE_SECRET = btoa("clerk-events-unsubscribe-secret!");
/** The signing secret of the Resend webhook. */
export const TEST_RESEND_WEBHOOK_SECRET = "whsec_" + btoa("clerk-events-resend-secret");
/** The function's public URL in tests. */
export const TEST_PUBLIC_FUNCTION_URL = "https://ref.supabase.test/functions/v1/clerk-events";
/** The token that unlocks the details of `/health` in tests. */
export const TEST_HEALTH_TOKEN = "test-health-token-" + "5eed".repeat(8);

/** A request for the details of `/health`, with the test token. */
export function healthDetailsRequest(): Request {
  return new Request("http://localhost/clerk-events/health", {
    headers: { authorization: `Bearer ${TEST_HEALTH_TOKEN}` },
  });
}
/** The service key the PostgREST double maps to `service_role`. */
export const TEST_SERVICE_KEY = "test-service-role-key";

/**
 * A complete, valid environment in Inngest cloud mode (so that signatures are
 * checked), with `overrides` applied. Pass `undefined` to remove a setting.
 */
export function testEnv(overrides: Env = {}): Env {
  return {
    CLERK_WEBHOOK_SIGNING_SECRET: TEST_SECRET,
    INNGEST_DEV: "0",
    INNGEST_EVENT_KEY: "test-event-key",
    INNGEST_SIGNING_KEY: TEST_SIGNING_KEY,
    INNGEST_EVENT_API_BASE_URL: "http://127.0.0.1:9/",
    INNGEST_BASE_URL: "http://127.0.0.1:9/",
    SUPABASE_URL: "http://127.0.0.1:9",
    SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_KEY,
    RESEND_API_KEY: "re_test_key",
    RESEND_BASE_URL: "http://127.0.0.1:9",
    EMAIL_FROM: "Acme <hello@acme.test>",
    APP_NAME: "Acme",
    APP_URL: "https://acme.test",
    PUBLIC_FUNCTION_URL: TEST_PUBLIC_FUNCTION_URL,
    UNSUBSCRIBE_SECRET: TEST_UNSUBSCRIBE_SECRET,
    RESEND_WEBHOOK_SECRET: TEST_RESEND_WEBHOOK_SECRET,
    EMAIL_POSTAL_ADDRESS: "Acme Inc., 1 Test Street, Testville, TS 00000",
    HEALTH_TOKEN: TEST_HEALTH_TOKEN,
    CLERK_SECRET_KEY: TEST_CLERK_SECRET_KEY,
    CLERK_API_URL: "http://127.0.0.1:9",
    ...overrides,
  };
}

/** Every log line written during a test, parsed. */
export interface CapturedLogs {
  readonly logger: Logger;
  readonly lines: string[];
  records(): Record<string, unknown>[];
}

/** Every secret value the tests configure. */
export const TEST_SECRET_VALUES: readonly string[] = [
  TEST_SECRET,
  OTHER_SECRET,
  TEST_SIGNING_KEY,
  TEST_SIGNING_KEY_FALLBACK,
  TEST_SERVICE_KEY,
  "test-event-key",
  "re_test_key",
  TEST_UNSUBSCRIBE_SECRET,
  TEST_RESEND_WEBHOOK_SECRET,
  TEST_HEALTH_TOKEN,
  TEST_CLERK_SECRET_KEY,
];

const EMAIL_ADDRESS = /[^\s@"'<>]+@[^\s@"'<>]+\.[a-z]{2,}/i;
let scanned = 0;
const violations: string[] = [];

/**
 * Why `line` must not be logged (it carries a secret value or an email
 * address), or undefined when it is safe. The reason never repeats a secret.
 */
export function logLineProblem(line: string): string | undefined {
  const secret = TEST_SECRET_VALUES.find((value) => line.includes(value));
  if (secret) return `Log line leaks a secret: ${line.replaceAll(secret, "***")}`;
  if (EMAIL_ADDRESS.test(line)) return `Log line leaks an email address: ${line}`;
  return undefined;
}

/** Throws when a log line carries a secret value or an email address. */
export function assertSafeLogLine(line: string): void {
  const problem = logLineProblem(line);
  if (problem) throw new Error(problem);
}

/**
 * Checks every line of `text`, written by `source`, and keeps each
 * violation for the end of the test. Nothing is thrown here: code that
 * catches or retries around a log call cannot make a violation disappear.
 */
export function scanLogText(text: string, source: string): void {
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    scanned += 1;
    const problem = logLineProblem(line);
    if (problem) violations.push(`${source}: ${problem}`);
  }
}

/** Returns and clears the violations kept so far (for tests of the scan itself). */
export function takeLogViolations(): string[] {
  return violations.splice(0);
}

/** How many log lines have been checked in this process. */
export function scannedLogLines(): number {
  return scanned;
}

// Every test that loads this module fails at its end if anything written
// during it, by a captured logger or to the console, leaked.
Deno.test.afterEach(() => {
  const found = takeLogViolations();
  if (found.length) {
    throw new Error(`${found.length} log line(s) leaked data:\n${found.slice(0, 10).join("\n")}`);
  }
});

for (const method of ["log", "info", "warn", "error", "debug"] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    scanLogText(args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" "), "console");
    original(...args);
  };
}

/** A logger that keeps its lines in memory instead of printing them. */
export function captureLogs(): CapturedLogs {
  const lines: string[] = [];
  const logger = createLogger({
    minLevel: "debug",
    sink: (_level, line) => {
      scanLogText(line, "logger");
      lines.push(line);
    },
  });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line)) };
}
