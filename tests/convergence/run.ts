/**
 * `deno task test:convergence`: explores histories of every entity (or one)
 * against a fresh database, prints progress, a report for each divergence
 * (seed, shrunk history, what happened, what diverged), and ends with the
 * line `convergence: N histories, M divergent`. Exits 1 on a divergence.
 *
 *   deno task test:convergence                         # the CI budget, fixed seed
 *   deno task test:convergence --seed 42 --histories 1000
 *   deno task test:convergence --entity users --seed 42 --path "17:3:0"   # replay one
 *   deno task test:convergence --jobs 1                # one process, one entity after another
 *
 * Without `--entity`, each entity plays in its own process (`parallel.ts`),
 * as many at once as `--jobs` says (default: the machine's CPUs): the
 * embedded database plays one history at a time, and entities share nothing.
 *
 * With `TEST_DATABASE_URL` the database is a real PostgreSQL server (each
 * run creates its own database), and 100 rounds of concurrent membership
 * writers race on it (`races.ts`, `--entity races` alone); otherwise the
 * embedded PGlite, which serves one connection at a time.
 */
import { parseArgs } from "node:util";
import { connect } from "../support/database.ts";
import { ENTITIES, type Entity, type Move, MOVE_KINDS } from "./history.ts";
import { describeReport, type EntityReport, runEntity } from "./property.ts";
import { runInParallel } from "./parallel.ts";
import { membershipRace } from "./races.ts";
import { startBase } from "./world.ts";

/** The default seed: fixed, so that CI replays the same histories. */
export const DEFAULT_SEED = 20261206;
/** Histories per entity in CI. */
export const DEFAULT_HISTORIES = 300;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string" },
    histories: { type: "string" },
    entity: { type: "string" },
    path: { type: "string" },
    without: { type: "string" },
    jobs: { type: "string" },
  },
});
const seed = values.seed === "random"
  ? Math.floor(Math.random() * 2 ** 31)
  : Number(values.seed ?? DEFAULT_SEED);
const count = Number(values.histories ?? DEFAULT_HISTORIES);
if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) {
  console.error("Usage: --seed <integer|random> --histories <positive integer>");
  Deno.exit(2);
}
const jobs = Number(values.jobs ?? Math.min(navigator.hardwareConcurrency, ENTITIES.length));
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error("Usage: --jobs <positive integer>");
  Deno.exit(2);
}
const without = (values.without?.split(",").filter(Boolean) ?? []) as Move["m"][];
if (!without.every((m) => MOVE_KINDS.includes(m))) {
  console.error(`--without takes kinds of move among ${MOVE_KINDS.join(", ")}`);
  Deno.exit(2);
}
const entities = values.entity === "races"
  ? []
  : values.entity
  ? [values.entity as Entity]
  : ENTITIES;
if (!entities.every((e) => ENTITIES.includes(e))) {
  console.error(`--entity must be one of ${ENTITIES.join(", ")}, races`);
  Deno.exit(2);
}

// SQL races need concurrent connections: only a real server has them.
const racing = Boolean(Deno.env.get("TEST_DATABASE_URL")) && !values.path &&
  (!values.entity || values.entity === "races");
/** Rounds of the membership race, on PostgreSQL. */
const RACE_ROUNDS = Number(Deno.env.get("RACE_ROUNDS") ?? 100);
let raced = 0;
let raceDivergent = 0;
// Each entity in a child process: no --entity, no replay, and more than one job.
const parallel = !values.entity && !values.path && jobs > 1;
let childHistories = 0;
let childDivergent = 0;
const started = performance.now();
if (parallel) {
  console.error(
    `convergence: seed ${seed}, ${count} histories per entity (${entities.join(", ")}), ` +
      `${jobs} processes at once`,
  );
  const outcome = await runInParallel(entities, [
    "--seed",
    String(seed),
    "--histories",
    String(count),
    ...(without.length ? ["--without", without.join(",")] : []),
  ], jobs);
  childHistories = outcome.histories;
  childDivergent = outcome.divergent + outcome.crashed.length;
  for (const child of outcome.crashed) {
    console.log(`convergence: the run of ${child} ended without its summary (see above)`);
  }
}

const serial = parallel ? [] : entities;
const reports: EntityReport[] = [];
if (serial.length || racing) await playHere();

async function playHere() {
  const sql = await connect();
  const base = await startBase(sql);
  try {
    const database = Deno.env.get("TEST_DATABASE_URL") ? "PostgreSQL" : "embedded PGlite";
    const plan = [
      ...(serial.length
        ? [`seed ${seed}, ${count} histories per entity (${serial.join(", ")})`]
        : []),
      ...(racing ? [`${RACE_ROUNDS} rounds of the membership race`] : []),
    ];
    console.error(`convergence: ${plan.join(", then ")}, database ${database}`);
    for (const entity of serial) {
      let lastLine = performance.now();
      const report = await runEntity(base, {
        entity,
        seed,
        histories: count,
        path: values.path,
        without,
        onHistory: (played, divergent) => {
          if (divergent || performance.now() - lastLine > 10_000) {
            lastLine = performance.now();
            console.error(
              `  ${entity}: ${played} histories played${
                divergent ? ", a divergence: shrinking" : ""
              }`,
            );
          }
        },
      });
      reports.push(report);
      const replay = `deno task test:convergence --entity ${entity} --seed ${seed} ` +
        `--path "${report.counterexample?.path ?? ""}"` +
        (without.length ? ` --without ${without.join(",")}` : "");
      console.log(describeReport(report, replay));
      console.error(
        `  ${entity}: ${report.generated} generated, ${report.played} played in ` +
          `${(report.ms / 1000).toFixed(1)} s`,
      );
    }
    if (racing) {
      const raceStarted = performance.now();
      for (let round = 1; round <= RACE_ROUNDS; round++) {
        const found = await membershipRace(base, round);
        raced += 1;
        if (found.length) {
          raceDivergent += 1;
          console.log(`races: DIVERGENCE\n${found.map((line) => `  - ${line}`).join("\n")}`);
        }
      }
      console.error(
        `  races: ${raced} rounds of concurrent membership writers in ` +
          `${((performance.now() - raceStarted) / 1000).toFixed(1)} s, ${raceDivergent} divergent`,
      );
    }
  } finally {
    await base.postgrest.close();
    await sql.end();
  }
}
const total = reports.reduce((n, r) => n + r.generated, 0) + raced + childHistories;
const divergent = reports.filter((r) => r.counterexample).length + raceDivergent +
  childDivergent;
console.error(`convergence: ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
console.log(`convergence: ${total} histories, ${divergent} divergent`);
Deno.exit(divergent ? 1 : 0);
