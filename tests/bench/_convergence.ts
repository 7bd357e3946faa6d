/**
 * Benchmark 11: the convergence simulation's throughput, histories per
 * minute, measured the way CI runs it: `tests/convergence/run.ts` on the
 * embedded database, each entity in its own process (as many at once as
 * the machine has CPUs), from the start of the command to its last line,
 * start-up included. The target is the CI budget: 300 histories per entity,
 * three entities (users, organizations, Clerk Billing), in about three
 * minutes, that is 300 a minute.
 */
import { ENTITIES } from "../convergence/history.ts";
import { SUMMARY } from "../convergence/parallel.ts";
import { REPO_ROOT } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** Options for {@link convergenceBenchmark}. */
export interface ConvergenceBenchOptions {
  /** Histories per entity per round. */
  readonly histories: number;
  readonly rounds: number;
  readonly progress: (line: string) => void;
}

/** The CI budget, as histories per minute. */
const BUDGET_PER_MINUTE = (ENTITIES.length * 300) / 3;

/** Runs the simulation `rounds` times, each on its own seed; one row, histories per minute. */
export async function convergenceBenchmark(options: ConvergenceBenchOptions): Promise<Row[]> {
  const perMinute: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    // CI's run: the embedded database, whatever the bench's own runs use.
    const env = Deno.env.toObject();
    delete env.TEST_DATABASE_URL;
    const started = performance.now();
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("tests/convergence/run.ts", REPO_ROOT).pathname,
        "--seed",
        String(9_000 + round),
        "--histories",
        String(options.histories),
      ],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "null",
    }).output();
    const minutes = (performance.now() - started) / 60_000;
    const lines = new TextDecoder().decode(output.stdout).trimEnd().split("\n");
    const summary = lines[lines.length - 1].match(SUMMARY);
    if (!summary || !output.success) {
      throw new Error(
        `The convergence run of round ${round + 1} did not end cleanly (exit ${output.code}): ` +
          `replay it with deno task test:convergence --seed ${9_000 + round}`,
      );
    }
    const rate = Number(summary[1]) / minutes;
    perMinute.push(rate);
    options.progress(
      `convergence round ${round + 1}: ${summary[1]} histories in ${(minutes * 60).toFixed(0)} s, ${
        rate.toFixed(0)
      }/min`,
    );
  }
  return [
    compare(
      `11: convergence simulation as CI runs it, histories per minute (${ENTITIES.length} entities, embedded, ${
        Math.min(navigator.hardwareConcurrency, ENTITIES.length)
      } processes)`,
      perMinute,
      BUDGET_PER_MINUTE,
      num(0),
      { on: "ours", op: ">=", value: BUDGET_PER_MINUTE, unit: "/min" },
      "the CI budget",
    ),
  ];
}
