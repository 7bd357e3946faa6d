/**
 * A small Inngest: it receives events, starts runs and drives them through
 * the serve route step by step, playing by each function's own registered
 * flow control (read with an in-band sync, see `inngest_registration.ts`):
 *
 * - event ids are deduplicated for 24 hours, as Inngest does;
 * - an event starts the functions whose triggers name it, or match it with
 *   a wildcard (`clerk/subscriptionItem.*`);
 * - `idempotency`: one run per function and key per 24 hours;
 * - `cancelOn`: a matching event cancels the runs that exist when it arrives;
 *   a step in flight finishes, and nothing after it is called;
 * - `throttle`: at most `limit` run starts per period (per key);
 * - `concurrency`: at most `limit` requests in flight per key (shared across
 *   functions for a key with scope `env` or `account`);
 * - `singleton` (mode `skip`): an event that would start a second run of the
 *   function (per key) while one is active starts none;
 * - `retries`: a step is attempted `retries + 1` times (the SDK is told the
 *   budget in `ctx.max_attempts`, and reports StepFailed on the last one);
 * - `RetryAfterError`: the next attempt waits for the `retry-after` answer;
 *   other errors back off on Inngest's schedule.
 *
 * Time is a {@link SimClock}: sleeps, back-offs and retry-after delays move
 * it forward when nothing else is ready, so days pass without a real wait.
 *
 * `runUntilIdle` drives everything in a fixed order. A simulation that
 * chooses the order itself uses `ready()` (the runs that may make a request
 * now, concurrency limits counted: a limit counts requests in flight, so
 * runs of one key interleave between steps), `step(run)` (one request of
 * that run) and `nextDue()`; `replay(run)` starts a failed run again, as
 * Inngest's replay does.
 * Every request to the route is bounded in real time and fails with a
 * message naming the function, event and step it waited for.
 */
import { within } from "./bounded.ts";
import {
  callFunction,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type Op,
  type RunEvent,
  runPayload,
} from "./inngest_cloud.ts";
import { evaluate, type FunctionConfig, readRegistration } from "./inngest_registration.ts";
import { durationMs } from "../../functions/util/duration.ts";
import { type SimClock, simClock } from "./sim_clock.ts";

/** Inngest keeps event ids and idempotency keys for this long. */
export const DEDUP_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Waits between attempts of a failing step, by retry number (about
 * Inngest's schedule, without the jitter): 15 s, 30 s, 1 min, ... 1 day.
 */
export const BACKOFF_MS: readonly number[] = [
  15,
  30,
  60,
  120,
  300,
  600,
  1_200,
  2_400,
  3_600,
  7_200,
  14_400,
  28_800,
  43_200,
  86_400,
].map((s) => s * 1000);

/** Where a run is. */
export type RunStatus =
  | "scheduled"
  | "running"
  | "sleeping"
  | "retrying"
  | "completed"
  | "failed"
  | "cancelled";

/** One request the engine made for a run. */
export interface RunRequest {
  /** Simulated time of the request. */
  readonly at: number;
  readonly stepId: string;
  readonly attempt: number;
  readonly status: number;
}

/** A run, as the engine sees it. */
export interface EngineRun {
  readonly id: string;
  readonly functionId: string;
  readonly event: RunEvent;
  status: RunStatus;
  /** The function's return value, once completed. */
  result?: unknown;
  /** Why it failed or was cancelled. */
  reason?: string;
  /** Every op the SDK reported, in order. */
  readonly ops: Op[];
  readonly requests: RunRequest[];
  /** Simulated time at which the run started (after any throttle). */
  readonly startAt: number;
  finishedAt?: number;
}

/** An event that started no run of a function, and why. */
export interface SkippedStart {
  readonly event: RunEvent;
  readonly functionId?: string;
  readonly reason: "duplicate event id" | "idempotency" | "singleton";
}

/** Options for {@link startInngestEngine}. */
export interface EngineOptions {
  readonly handler: (req: Request) => Promise<Response>;
  readonly signingKey: string;
  readonly url?: string;
  /** Default: a fresh {@link simClock}. */
  readonly clock?: SimClock;
  /** Requests in flight at once, across runs. Default 8. */
  readonly parallelism?: number;
  /** Real-time bound on each request. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** A run making more requests than this fails. Default 200. */
  readonly maxRequestsPerRun?: number;
}

/** Options for {@link InngestEngine.runUntilIdle}. */
export interface RunUntilOptions {
  /** Stop once the simulated clock would pass this time. */
  readonly until?: number;
  /** Stop (after the requests in flight) as soon as this returns true. */
  readonly stopWhen?: () => boolean;
}

interface RunState {
  readonly run: EngineRun;
  readonly config: FunctionConfig;
  readonly seq: number;
  readonly steps: Record<string, { data: unknown }>;
  readonly stack: string[];
  readonly keys: readonly { key: string; limit: number }[];
  stepId: string;
  attempt: number;
  wakeAt: number;
  inFlight: boolean;
  cancelRequested?: string;
}

const ACTIVE: ReadonlySet<RunStatus> = new Set(["scheduled", "running", "sleeping", "retrying"]);

/** Reads the registration from `options.handler` and returns an engine. */
export async function startInngestEngine(options: EngineOptions): Promise<InngestEngine> {
  const functions = await readRegistration(options);
  return new InngestEngine(options, functions);
}

/** See the module doc. Build one with {@link startInngestEngine}. */
export class InngestEngine {
  /** The shared simulated clock. */
  readonly clock: SimClock;
  /** The registered configuration, by function id. */
  readonly functions: ReadonlyMap<string, FunctionConfig>;
  /** Every run started, in order. */
  readonly runs: EngineRun[] = [];
  /** Events that started no run, and why. */
  readonly skipped: SkippedStart[] = [];

  readonly #options: EngineOptions;
  readonly #states: RunState[] = [];
  readonly #eventIds = new Map<string, number>();
  readonly #idempotency = new Map<string, number>();
  readonly #throttleStarts = new Map<string, number[]>();
  readonly #inFlightByKey = new Map<string, number>();

  constructor(options: EngineOptions, functions: ReadonlyMap<string, FunctionConfig>) {
    this.#options = options;
    this.functions = functions;
    this.clock = options.clock ?? simClock();
  }

  /** The registered configuration of `functionId`; throws when it is not served. */
  config(functionId: string): FunctionConfig {
    const config = this.functions.get(functionId);
    if (!config) throw new Error(`Cannot find function "${functionId}" in the registration`);
    return config;
  }

  /** Runs of `functionId`, optionally only those for `eventId`. */
  runsOf(functionId: string, eventId?: string): EngineRun[] {
    return this.runs.filter((r) =>
      r.functionId === functionId && (eventId === undefined || r.event.id === eventId)
    );
  }

  /**
   * Receives events as Inngest's event API hands them on: cancels the runs
   * they match, then starts the runs they trigger. Returns the new runs.
   */
  send(...events: RunEvent[]): EngineRun[] {
    return events.flatMap((event) => this.#receive(event));
  }

  /**
   * Drives runs until none is left to do (or `until` / `stopWhen`), moving
   * the simulated clock forward whenever nothing is ready.
   */
  async runUntilIdle(options: RunUntilOptions = {}): Promise<void> {
    const parallelism = this.#options.parallelism ?? 8;
    const inFlight = new Set<Promise<void>>();
    while (true) {
      if (options.stopWhen?.()) break;
      const now = this.clock.now();
      const ready = this.#states
        .filter((s) => ACTIVE.has(s.run.status) && !s.inFlight && s.wakeAt <= now)
        .sort((a, b) => a.wakeAt - b.wakeAt || a.seq - b.seq);
      for (const state of ready) {
        if (inFlight.size >= parallelism) break;
        if (!this.#acquire(state)) continue;
        const request: Promise<void> = this.#request(state).finally(() => {
          this.#release(state);
          inFlight.delete(request);
        });
        inFlight.add(request);
      }
      if (inFlight.size) {
        await Promise.race(inFlight);
        continue;
      }
      const waiting = this.#states.filter((s) => ACTIVE.has(s.run.status));
      if (!waiting.length) break;
      const next = Math.min(...waiting.map((s) => s.wakeAt));
      if (options.until !== undefined && next > options.until) {
        this.clock.advanceTo(options.until);
        break;
      }
      this.clock.advanceTo(next);
    }
    await Promise.all(inFlight);
  }

  /**
   * Runs that may make a request now: active, not in flight, due, and with
   * room under every concurrency limit they count against. In start order.
   */
  ready(): EngineRun[] {
    const now = this.clock.now();
    return this.#states
      .filter((s) =>
        ACTIVE.has(s.run.status) && !s.inFlight && s.wakeAt <= now &&
        s.keys.every(({ key, limit }) => (this.#inFlightByKey.get(key) ?? 0) < limit)
      )
      .map((s) => s.run);
  }

  /**
   * Makes one request for `run`, which must be in {@link ready}, and
   * resolves once its answer is handled. Several may be in flight at once.
   */
  async step(run: EngineRun): Promise<void> {
    const state = this.#states.find((s) => s.run === run);
    if (!state || !ACTIVE.has(run.status) || state.inFlight) {
      throw new Error(`Cannot step run ${run.id} of ${run.functionId}: it is ${run.status}`);
    }
    if (state.wakeAt > this.clock.now()) {
      throw new Error(`Cannot step run ${run.id} of ${run.functionId}: not due yet`);
    }
    if (!this.#acquire(state)) {
      throw new Error(`Cannot step run ${run.id} of ${run.functionId}: concurrency limit reached`);
    }
    try {
      await this.#request(state);
    } finally {
      this.#release(state);
    }
  }

  /** When the earliest active run that is not in flight is due; undefined when none is. */
  nextDue(): number | undefined {
    const waiting = this.#states.filter((s) => ACTIVE.has(s.run.status) && !s.inFlight);
    return waiting.length ? Math.min(...waiting.map((s) => s.wakeAt)) : undefined;
  }

  /** Whether any run is still active (scheduled, running, sleeping or retrying). */
  active(): boolean {
    return this.#states.some((s) => ACTIVE.has(s.run.status));
  }

  /**
   * Starts a run of `functionId` as its cron schedule would: the event is
   * Inngest's `inngest/scheduled.timer`. Returns the run.
   */
  cron(functionId: string): EngineRun {
    const config = this.config(functionId);
    const cron = (config.raw.triggers as { cron?: string }[] | undefined)?.find((t) => t.cron)
      ?.cron;
    if (!cron) throw new Error(`Cannot run "${functionId}" on a schedule: it has no cron trigger`);
    const now = this.clock.now();
    const event: RunEvent = {
      id: `cron-${functionId}-${now}`,
      name: "inngest/scheduled.timer",
      data: { cron },
      ts: now,
    };
    return this.#start(config, event, now);
  }

  /**
   * Starts `run`'s function again for its event, as Inngest's replay of a
   * failed run does: no event-id, idempotency or singleton check.
   */
  replay(run: EngineRun): EngineRun {
    return this.#start(this.config(run.functionId), run.event, this.clock.now());
  }

  #receive(event: RunEvent): EngineRun[] {
    const now = this.clock.now();
    const seen = this.#eventIds.get(event.id);
    if (seen !== undefined && now - seen < DEDUP_WINDOW_MS) {
      this.skipped.push({ event, reason: "duplicate event id" });
      return [];
    }
    this.#eventIds.set(event.id, now);
    for (const state of this.#states) {
      if (!ACTIVE.has(state.run.status)) continue;
      const match = state.config.cancel.find((c) =>
        c.event === event.name &&
        (!c.if || evaluate(c.if, { event: state.run.event, async: event }) === true)
      );
      if (match) this.#cancel(state, `cancelled by ${event.name} ${event.id}`);
    }
    const started: EngineRun[] = [];
    for (const config of this.functions.values()) {
      if (!config.events.some((trigger) => triggerMatches(trigger, event.name))) continue;
      if (config.idempotency) {
        const key = `${config.id}|${String(evaluate(config.idempotency, { event }))}`;
        const at = this.#idempotency.get(key);
        if (at !== undefined && now - at < DEDUP_WINDOW_MS) {
          this.skipped.push({ event, functionId: config.id, reason: "idempotency" });
          continue;
        }
        this.#idempotency.set(key, now);
      }
      if (config.singleton) {
        const { mode, key } = config.singleton;
        const keyOf = (e: RunEvent) => key ? String(evaluate(key, { event: e })) : "";
        const running = this.#states.filter((s) =>
          s.config === config && ACTIVE.has(s.run.status) && keyOf(s.run.event) === keyOf(event)
        );
        if (running.length && mode === "skip") {
          this.skipped.push({ event, functionId: config.id, reason: "singleton" });
          continue;
        }
        for (const state of running) {
          this.#cancel(state, `replaced by singleton run for ${event.id}`);
        }
      }
      started.push(this.#start(config, event, this.#throttledStart(config, event, now)));
    }
    return started;
  }

  #throttledStart(config: FunctionConfig, event: RunEvent, now: number): number {
    const throttle = config.throttle;
    if (!throttle) return now;
    const key = `${config.id}|${throttle.key ? String(evaluate(throttle.key, { event })) : ""}`;
    const starts = this.#throttleStarts.get(key) ?? [];
    const earliest = starts.length >= throttle.limit
      ? starts[starts.length - throttle.limit] + throttle.periodMs
      : now;
    const at = Math.max(now, earliest);
    starts.push(at);
    this.#throttleStarts.set(key, starts);
    return at;
  }

  #start(config: FunctionConfig, event: RunEvent, startAt: number): EngineRun {
    const run: EngineRun = {
      id: crypto.randomUUID(),
      functionId: config.id,
      event,
      status: "scheduled",
      ops: [],
      requests: [],
      startAt,
    };
    const keys = config.concurrency.map((c, i) => {
      const value = c.key ? String(evaluate(c.key, { event })) : "";
      const shared = c.scope === "env" || c.scope === "account";
      return { key: shared ? `${c.scope}|${value}` : `${config.id}|${i}|${value}`, limit: c.limit };
    });
    this.runs.push(run);
    this.#states.push({
      run,
      config,
      seq: this.#states.length,
      steps: {},
      stack: [],
      keys,
      stepId: "step",
      attempt: 0,
      wakeAt: startAt,
      inFlight: false,
    });
    return run;
  }

  #cancel(state: RunState, reason: string): void {
    if (state.inFlight) state.cancelRequested = reason;
    else this.#finish(state, "cancelled", reason);
  }

  #finish(state: RunState, status: "completed" | "failed" | "cancelled", reason?: string) {
    state.run.status = status;
    state.run.reason = reason;
    state.run.finishedAt = this.clock.now();
  }

  #acquire(state: RunState): boolean {
    if (state.keys.some(({ key, limit }) => (this.#inFlightByKey.get(key) ?? 0) >= limit)) {
      return false;
    }
    for (const { key } of state.keys) {
      this.#inFlightByKey.set(key, (this.#inFlightByKey.get(key) ?? 0) + 1);
    }
    state.inFlight = true;
    return true;
  }

  #release(state: RunState): void {
    for (const { key } of state.keys) {
      this.#inFlightByKey.set(key, (this.#inFlightByKey.get(key) ?? 1) - 1);
    }
    state.inFlight = false;
  }

  async #request(state: RunState): Promise<void> {
    const { run, config } = state;
    const maxRequests = this.#options.maxRequestsPerRun ?? 200;
    if (run.requests.length >= maxRequests) {
      return this.#finish(state, "failed", `did not finish within ${maxRequests} requests`);
    }
    run.status = "running";
    const at = this.clock.now();
    const stepId = state.stepId;
    let res: Response;
    let body: unknown;
    try {
      res = await within(
        callFunction(
          { ...this.#options, functionId: run.functionId },
          runPayload({
            event: run.event,
            runId: run.id,
            steps: state.steps,
            stack: state.stack,
            attempt: state.attempt,
            maxAttempts: config.retries + 1,
          }),
          stepId,
        ),
        this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        `${run.functionId} to answer for event ${run.event.id} (step ${stepId})`,
      );
      const text = await res.text();
      body = text ? JSON.parse(text) : null;
    } catch (error) {
      return this.#finish(state, "failed", error instanceof Error ? error.message : String(error));
    }
    run.requests.push({ at, stepId, attempt: state.attempt, status: res.status });
    if (state.cancelRequested) return this.#finish(state, "cancelled", state.cancelRequested);
    if (res.status === 200) {
      run.result = body;
      return this.#finish(state, "completed");
    }
    if (res.status !== 206) {
      if (res.headers.get("x-inngest-no-retry") === "true") {
        return this.#finish(state, "failed", `${res.status}: ${JSON.stringify(body)}`);
      }
      return this.#retry(state, res, JSON.stringify(body));
    }
    for (const op of body as Op[]) {
      run.ops.push(op);
      if (op.op === "StepRun" || op.op === "Step") {
        state.steps[op.id] = { data: op.data ?? null };
        state.stack.push(op.id);
        state.attempt = 0;
        state.stepId = "step";
      } else if (op.op === "Sleep") {
        state.steps[op.id] = { data: null };
        state.stack.push(op.id);
        state.attempt = 0;
        state.stepId = "step";
        const duration = (op.opts?.duration as string | undefined) ?? op.name ?? "0s";
        state.wakeAt = this.clock.now() + durationMs(duration);
        run.status = "sleeping";
      } else if (op.op === "StepPlanned") {
        state.stepId = op.id;
      } else if (op.op === "StepError") {
        state.stepId = op.id;
        return this.#retry(state, res, `step ${op.displayName ?? op.id}: ${errorText(op.error)}`);
      } else if (op.op === "StepFailed") {
        return this.#finish(
          state,
          "failed",
          `step ${op.displayName ?? op.id} failed after ${state.attempt + 1} attempt(s): ${
            errorText(op.error)
          }`,
        );
      } else {
        return this.#finish(state, "failed", `unexpected op ${op.op}`);
      }
    }
  }

  #retry(state: RunState, res: Response, detail: string): void {
    state.attempt += 1;
    if (state.attempt > state.config.retries) {
      return this.#finish(state, "failed", `failed after ${state.attempt} attempts: ${detail}`);
    }
    const retryAfter = res.headers.get("retry-after");
    const now = this.clock.now();
    state.wakeAt = now +
      (retryAfter !== null
        ? retryAfterMs(retryAfter, now)
        : BACKOFF_MS[Math.min(state.attempt, BACKOFF_MS.length) - 1]);
    state.run.status = "retrying";
  }
}

/** A `retry-after` value (seconds, or an HTTP or ISO date) as a delay from `now`. */
function retryAfterMs(value: string, now: number): number {
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) throw new Error(`Cannot read retry-after "${value}"`);
  return Math.max(0, date - now);
}

function errorText(error: unknown): string {
  if (error && typeof error === "object" && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return JSON.stringify(error);
}

/**
 * Whether an event trigger matches `name`: exactly, or as Inngest's
 * wildcards do (`clerk/subscriptionItem.*` matches every event whose name
 * starts with `clerk/subscriptionItem.`).
 */
export function triggerMatches(trigger: string, name: string): boolean {
  return trigger.endsWith("*") ? name.startsWith(trigger.slice(0, -1)) : trigger === name;
}
