/**
 * Child processes whose output is copied line by line with a `[name] `
 * prefix, and whose last lines are kept (a bounded ring), so that a child
 * that exits early can be explained after the fact: `deno task up` prints
 * them when one of its processes stops on its own.
 */

/** The last `capacity` lines of a stream, each cut to `maxLength` characters. */
export class LastLines {
  readonly #capacity: number;
  readonly #maxLength: number;
  readonly #ring: string[] = [];
  #next = 0;

  constructor(capacity: number, maxLength = 500) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot keep ${capacity} lines: keep at least one`);
    }
    this.#capacity = capacity;
    this.#maxLength = maxLength;
  }

  /** Keeps `line`, dropping the oldest once full. */
  push(line: string): void {
    const kept = line.length > this.#maxLength ? `${line.slice(0, this.#maxLength)}…` : line;
    if (this.#ring.length < this.#capacity) this.#ring.push(kept);
    else this.#ring[this.#next] = kept;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    if (this.#ring.length < this.#capacity) return [...this.#ring];
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}

/** Options for {@link spawnChild}. */
export interface ChildOptions {
  /** The prefix of its lines, e.g. `inngest`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Added to this process's environment. */
  readonly env?: Record<string, string>;
  readonly cwd?: string | URL;
  /** Where the prefixed lines go. Default: stdout. */
  readonly write?: (text: string) => void;
  /** How many of its last lines to keep. Default {@link KEPT_LINES}. */
  readonly keepLines?: number;
}

/** A started child. */
export interface Child {
  readonly name: string;
  readonly process: Deno.ChildProcess;
  /** Resolves with its status once it exited and its output was copied. */
  readonly done: Promise<Deno.CommandStatus>;
  /** Its last lines (stdout and stderr as they came), oldest first. */
  lastLines(): string[];
}

/** Lines kept per child by default. */
export const KEPT_LINES = 20;

const encoder = new TextEncoder();
const toStdout = (text: string) => void Deno.stdout.writeSync(encoder.encode(text));

/**
 * Starts `command`; throws Deno.errors.NotFound when it is not on PATH.
 * Its stdin is closed.
 */
export function spawnChild(options: ChildOptions): Child {
  const { name } = options;
  const write = options.write ?? toStdout;
  const kept = new LastLines(options.keepLines ?? KEPT_LINES);
  const process = new Deno.Command(options.command, {
    args: [...options.args],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const line = (text: string) => {
    kept.push(text);
    write(`[${name}] ${text}\n`);
  };
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const text of lines) line(text);
    }
    if (rest) line(rest);
  };
  const output = Promise.all([copy(process.stdout), copy(process.stderr)]);
  const done = process.status.then(async (status) => {
    await output;
    return status;
  });
  return { name, process, done, lastLines: () => kept.lines() };
}

/**
 * What to print when `child` exited on its own with `status`: its code, its
 * last lines, and `hint` (what else to know about that program), if any.
 */
export function earlyExitReport(
  child: Pick<Child, "name" | "lastLines">,
  status: Pick<Deno.CommandStatus, "code">,
  hint?: string,
): string[] {
  const lines = child.lastLines();
  return [
    lines.length
      ? `${child.name} exited early with code ${status.code}; its last ${lines.length} line(s):`
      : `${child.name} exited early with code ${status.code}, and printed nothing`,
    ...lines.map((text) => `  | ${text}`),
    ...(hint ? [hint] : []),
  ];
}
