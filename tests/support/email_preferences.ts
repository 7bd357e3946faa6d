/**
 * Reads `public.email_preferences` and unsubscribe links for tests.
 */
import type postgres from "postgres";
import { createUnsubscribeLinks } from "../../functions/email/list_unsubscribe.ts";
import { TEST_PUBLIC_FUNCTION_URL, TEST_UNSUBSCRIBE_SECRET } from "./env.ts";

/** A row of `public.email_preferences` as the tests read it. */
export interface StoredPreference {
  user_id: string;
  marketing_opt_out_at: Date | null;
  source: string | null;
  updated_at: Date;
}

/** Reads one user's preferences as the table owner, bypassing RLS. */
export async function readPreference(
  sql: postgres.Sql,
  userId: string,
): Promise<StoredPreference | undefined> {
  const [row] = await sql<StoredPreference[]>`
    select user_id, marketing_opt_out_at, source, updated_at
      from public.email_preferences where user_id = ${userId}`;
  return row;
}

/** The unsubscribe link the function puts in a user's email, with the test settings. */
export const unsubscribeUrlFor = createUnsubscribeLinks({
  publicFunctionUrl: TEST_PUBLIC_FUNCTION_URL,
  secrets: [TEST_UNSUBSCRIBE_SECRET],
});

/**
 * The request a mail client or browser makes to `url` (a public link), as
 * it reaches the function: same path and query, on the local test host.
 */
export function requestTo(url: string, init: RequestInit = {}): Request {
  const { pathname, search } = new URL(url);
  return new Request(`http://localhost${pathname}${search}`, init);
}

/** RFC 8058's POST, form-encoded as mail clients send it. */
export function oneClickPost(url: string): Request {
  return requestTo(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "List-Unsubscribe=One-Click",
  });
}
