/**
 * Structured JSON logging: one line per notable event, with a level, a
 * message and flat fields (svix_id, event, user_id, duration_ms, ...) that
 * Supabase's log explorer can filter on.
 *
 * Callers pass ids, never personal data or secrets. Errors are reduced to
 * their name and message.
 */

/** Field values a log line may carry. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Where log lines go: defaults to the console method matching the level. */
export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Creates a logger writing JSON lines at `minLevel` and above. */
export function createLogger(
  options: { sink?: LogSink; minLevel?: LogLevel; fields?: LogFields } = {},
): Logger {
  const sink = options.sink ?? consoleSink;
  const min = ORDER[options.minLevel ?? "info"];
  const base = options.fields ?? {};
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    sink(level, JSON.stringify({ level, msg, time: new Date().toISOString(), ...base, ...fields }));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

const EMAIL_LIKE = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+\.[^\s@"'<>(),;:]+/g;

/**
 * Reduces an unknown thrown value to loggable fields. Upstream error messages
 * sometimes quote the address they rejected, so anything shaped like an email
 * address is masked.
 */
export function errorFields(error: unknown): LogFields {
  const text = error instanceof Error ? error.message : String(error);
  const fields: LogFields = { error: text.replace(EMAIL_LIKE, "[email]") };
  if (error instanceof Error) fields.error_name = error.name;
  return fields;
}
