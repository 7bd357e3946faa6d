/**
 * Child processes for tests: spawn with output captured, stop with a bounded
 * wait, and find a free loopback port for them.
 */

/** A spawned process whose stdout and stderr are collected. */
export interface CapturedProcess {
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** Resolves when it has exited and its output is all read. */
  readonly finished: Promise<Deno.CommandStatus>;
  /** Sends `signal` (SIGKILL 5 s later if still running) and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Spawns `command` (which must pipe stdout and stderr) and collects its output. */
export function spawnCapturing(command: Deno.Command): CapturedProcess {
  const child = command.spawn();
  let output = "";
  const drain = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (output += chunk) }),
    );
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const finished = Promise.all([status, drained]).then(([result]) => result);
  return {
    output: () => output,
    exited: () => exited,
    finished,
    stop: async (signal = "SIGTERM") => {
      if (!exited) child.kill(signal);
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 5_000);
      try {
        return await finished;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
