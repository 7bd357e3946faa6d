/**
 * Settings and logs for tests.
 */
import { createLogger, type Logger } from "../../functions/log.ts";
import type { Env } from "../../functions/settings.ts";
import { OTHER_SECRET, TEST_SECRET } from "./clerk.ts";
import { TEST_CLERK_SECRET_KEY } from "./clerk_api.ts";

/** The Inngest signing key the tests sign "Inngest Cloud" requests with. */
export const TEST_SIGNING_KEY = "signkey-test-" + "c0ffee".repeat(10) + "abcd";
/** A second key, for rotation tests. */
export const TEST_SIGNING_KEY_FALLBACK = "signkey-test-" + "beef".repeat(16);
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
  TEST_CLERK_SECRET_KEY,
];

const EMAIL_ADDRESS = /[^\s@"'<>]+@[^\s@"'<>]+\.[a-z]{2,}/i;
let scanned = 0;

/**
 * Throws when a log line carries a secret value or an email address. Every
 * captured logger checks every line, so each suite doubles as a log scan.
 */
export function assertSafeLogLine(line: string): void {
  scanned += 1;
  const secret = TEST_SECRET_VALUES.find((value) => line.includes(value));
  if (secret) throw new Error(`Log line leaks a secret: ${line.replace(secret, "***")}`);
  if (EMAIL_ADDRESS.test(line)) throw new Error(`Log line leaks an email address: ${line}`);
}

/** How many log lines {@link assertSafeLogLine} has checked in this process. */
export function scannedLogLines(): number {
  return scanned;
}

/** A logger that keeps its lines in memory instead of printing them. */
export function captureLogs(): CapturedLogs {
  const lines: string[] = [];
  const logger = createLogger({
    minLevel: "debug",
    sink: (_level, line) => {
      assertSafeLogLine(line);
      lines.push(line);
    },
  });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line)) };
}
