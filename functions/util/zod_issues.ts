/**
 * The one way a failed zod parse is told, in a log line, an HTTP answer or
 * an error message: `path: message; path: message`, on one line, the first
 * few issues only (a hostile payload can produce thousands).
 */

/** The issues of a failed parse, as `a.b: message; (root): message`. */
export function issuesText(
  error: { readonly issues: readonly { path: readonly PropertyKey[]; message: string }[] },
  limit = 5,
): string {
  return error.issues
    .slice(0, limit)
    .map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
}
