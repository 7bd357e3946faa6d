/**
 * Runs each entity's histories in its own process, a few at a time: the
 * embedded database serves one connection, so one process plays one
 * history at a time, and the entities share nothing. Each child is
 * `run.ts --entity <entity>` with the same seed and options, so a child's
 * report (and its replay line) is exactly what a serial run prints.
 *
 * The children's progress goes to stderr line by line, their reports to
 * stdout; their last lines (`convergence: N histories, M divergent`) are
 * summed by the caller.
 */
import type { Entity } from "./history.ts";

/** What the children found, together. */
export interface ParallelOutcome {
  readonly histories: number;
  readonly divergent: number;
  /** Children that ended without their summary line (a crash), with their exit codes. */
  readonly crashed: readonly string[];
}

/** The last line of `run.ts`: `convergence: N histories, M divergent`. */
export const SUMMARY = /^convergence: (\d+) histories, (\d+) divergent$/;

/** Plays `entities` in child processes, at most `jobs` at once; `args` go to each child. */
export async function runInParallel(
  entities: readonly Entity[],
  args: readonly string[],
  jobs: number,
): Promise<ParallelOutcome> {
  const queue = [...entities];
  let histories = 0;
  let divergent = 0;
  const crashed: string[] = [];
  const worker = async () => {
    for (let entity = queue.shift(); entity; entity = queue.shift()) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL("./run.ts", import.meta.url).pathname,
          ...args,
          "--entity",
          entity,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let summary: RegExpMatchArray | null = null;
      await Promise.all([
        forEachLine(child.stdout, (line) => {
          const match = line.match(SUMMARY);
          if (match) summary = match;
          else console.log(line);
        }),
        forEachLine(child.stderr, (line) => console.error(line)),
      ]);
      const status = await child.status;
      const found = summary as RegExpMatchArray | null;
      if (!found) {
        crashed.push(`${entity} (exit ${status.code})`);
        continue;
      }
      histories += Number(found[1]);
      divergent += Number(found[2]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return { histories, divergent, crashed };
}

/** Calls `fn` with each whole line of `stream`, so that two children's lines never mix. */
async function forEachLine(stream: ReadableStream<Uint8Array>, fn: (line: string) => void) {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split("\n");
    rest = lines.pop() ?? "";
    lines.forEach(fn);
  }
  if (rest) fn(rest);
}
