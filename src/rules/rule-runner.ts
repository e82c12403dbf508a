/**
 * Carries the rules engine's actions out: outputs through the GPIO outputs, cameras through a callback,
 * every action reported (log + publish) through `onAction`, and `tick` scheduled for exactly when the
 * engine's next hold ends instead of polling. The engine stays pure; this is the only part with a clock.
 * The person rules (the AccessEngine) run beside it: their pulses go out the same way, and each lock
 * decision goes to `onDecision`; a grant whose pulse failed is followed by a refusal with reason `error`.
 */
import type { GpioOutput } from '../gpio/gpio-types.js';
import type { Logger } from '../observability/logger.js';
import type { TrackEvent } from '../pipeline/track-event.js';
import { describeAction, type RuleAction } from './rule-action.js';
import type { RulesEngine } from './rules-engine.js';
import { errorLogFields } from '../observability/error-log-fields.js';
import { describeDecision, type AccessDecision } from './access-decision.js';
import type { AccessEngine, AccessResult } from './access-engine.js';

/** What a {@link RuleRunner} drives. */
export interface RuleRunnerDeps {
  readonly engine: RulesEngine;
  /** The person rules, when the config has any. */
  readonly access?: AccessEngine;
  /** Every lock decision of a person rule (write it to the access log and publish it). */
  readonly onDecision?: (decision: AccessDecision) => void;
  /** The GPIO output called `name`, if configured. */
  readonly output: (name: string) => GpioOutput | undefined;
  /** Starts or pauses an input-gated camera. */
  readonly setCameraRunning: (camera: string, run: boolean) => void;
  /** Every action, after it was started (publish it; the runner logs it). */
  readonly onAction?: (action: RuleAction) => void;
  readonly log: Logger;
  /** Monotonic ms. Default `performance.now()`. */
  readonly now?: () => number;
}

export class RuleRunner {
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  readonly #now: () => number;

  readonly #deps: RuleRunnerDeps;

  constructor(deps: RuleRunnerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
  }

  /** Applies the engine's start actions (gated cameras paused). */
  start(): void {
    this.#apply(this.#deps.engine.start(this.#now()));
  }

  /** A track event from the pipeline. */
  event(event: TrackEvent): void {
    if (this.#stopped) return;
    const now = this.#now();
    this.#apply(this.#deps.engine.onEvent(event, now), this.#deps.access?.onEvent(event, now));
  }

  /** A GPIO input value (`initial` for the level read at start). */
  input(name: string, value: boolean, initial = false): void {
    if (this.#stopped) return;
    const now = this.#now();
    this.#apply(
      this.#deps.engine.onInput(name, value, now, initial),
      this.#deps.access?.onInput(name, value, now, initial),
    );
  }

  /** Stops scheduling; actions already started run on. Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #apply(actions: readonly RuleAction[], access?: AccessResult): void {
    const decisions = access?.decisions ?? [];
    for (const fault of access?.faults ?? [])
      this.#deps.log.warn(
        { input: fault.input, held_s: fault.held_s },
        'second-factor input active for longer than its window (a stuck button or a wedged contact): it counts only once released and pressed again',
      );
    /** Rules whose output could not even be started: their grants are refusals (error). */
    const notDriven = new Map<string, string>();
    for (const action of [...actions, ...(access?.actions ?? [])]) {
      // The grants this action carries out: refused after all if the lock cannot be driven.
      const failed = (detail: string) => {
        for (const d of decisions)
          if (d.rule === action.rule && d.outcome === 'granted')
            this.#decide({ ...d, outcome: 'denied', reason: 'error', detail });
      };
      this.#deps.log.info({ rule: action.rule, action: action.kind }, describeAction(action));
      if (action.kind === 'camera') {
        this.#deps.setCameraRunning(action.camera, action.run);
      } else {
        const output = this.#deps.output(action.output);
        if (!output) {
          this.#deps.log.error(
            { rule: action.rule, output: action.output },
            'rule names an output that is not configured',
          );
          notDriven.set(action.rule, `output ${action.output} is not configured`);
          continue;
        }
        const done = action.kind === 'pulse' ? output.pulse(action.ms) : output.set(action.on);
        done.catch((err: unknown) => {
          this.#deps.log.error(
            { rule: action.rule, ...errorLogFields(err) },
            `rule action failed: ${describeAction(action)}`,
          );
          failed(`output ${action.output} failed: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
      this.#deps.onAction?.(action);
    }
    // Decisions after their actions started: a granted entry means the pulse is under way.
    for (const decision of decisions) {
      const detail = decision.outcome === 'granted' ? notDriven.get(decision.rule) : undefined;
      this.#decide(detail === undefined ? decision : { ...decision, outcome: 'denied', reason: 'error', detail });
    }
    this.#schedule();
  }

  #decide(decision: AccessDecision): void {
    const level = decision.outcome === 'granted' ? 'info' : 'warn';
    this.#deps.log[level]({ rule: decision.rule, access: decision.reason }, describeDecision(decision));
    this.#deps.onDecision?.(decision);
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const deadlines = [this.#deps.engine.nextDeadline(), this.#deps.access?.nextDeadline() ?? null];
    const times = deadlines.filter((t): t is number => t !== null);
    if (times.length === 0 || this.#stopped) return;
    const deadline = Math.min(...times);
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        if (this.#stopped) return;
        const now = this.#now();
        this.#apply(this.#deps.engine.tick(now), this.#deps.access?.tick(now));
      },
      Math.max(0, deadline - this.#now()),
    );
  }
}
