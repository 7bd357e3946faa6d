/**
 * Benchmark 11: the convergence simulation's throughput, histories per
 * minute (each played against the whole app, brought to rest and checked),
 * against the CI budget: 300 histories per entity, three entities (users,
 * organizations, Clerk Billing), in about three minutes, that is 300 a
 * minute.
 */
import { connect } from "../support/database.ts";
import { ENTITIES } from "../convergence/history.ts";
import { runEntity } from "../convergence/property.ts";
import { startBase } from "../convergence/world.ts";
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

/** Plays rounds of histories of both entities; one row, histories per minute. */
export async function convergenceBenchmark(options: ConvergenceBenchOptions): Promise<Row[]> {
  const sql = await connect();
  const base = await startBase(sql);
  const perMinute: number[] = [];
  try {
    for (let round = 0; round < options.rounds; round++) {
      const started = performance.now();
      let played = 0;
      for (const entity of ENTITIES) {
        const report = await runEntity(base, {
          entity,
          seed: 9_000 + round,
          histories: options.histories,
        });
        played += report.played;
      }
      const rate = played / ((performance.now() - started) / 60_000);
      perMinute.push(rate);
      options.progress(
        `convergence round ${round + 1}: ${played} histories, ${rate.toFixed(0)}/min`,
      );
    }
  } finally {
    await base.postgrest.close();
    await sql.end();
  }
  return [
    compare(
      "11: convergence simulation, histories per minute (all three entities, PostgreSQL)",
      perMinute,
      BUDGET_PER_MINUTE,
      num(0),
      { on: "ours", op: ">=", value: BUDGET_PER_MINUTE, unit: "/min" },
      "the CI budget",
    ),
  ];
}
