/**
 * Carries the rules engine's actions out: outputs through the GPIO outputs, cameras through a callback,
 * every action reported (log + publish) through `onAction`, and `tick` scheduled for exactly when the
 * engine's next hold ends instead of polling. The engine stays pure; this is the only part with a clock.
 */
import type { GpioOutput } from '../gpio/gpio-types.js';
import type { Logger } from '../observability/logger.js';
import type { TrackEvent } from '../pipeline/track-event.js';
import { describeAction, type RuleAction } from './rule-action.js';
import type { RulesEngine } from './rules-engine.js';
import { errorLogFields } from '../observability/error-log-fields.js';

/** What a {@link RuleRunner} drives. */
export interface RuleRunnerDeps {
  readonly engine: RulesEngine;
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
    if (!this.#stopped) this.#apply(this.#deps.engine.onEvent(event, this.#now()));
  }

  /** A GPIO input value (`initial` for the level read at start). */
  input(name: string, value: boolean, initial = false): void {
    if (!this.#stopped) this.#apply(this.#deps.engine.onInput(name, value, this.#now(), initial));
  }

  /** Stops scheduling; actions already started run on. Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #apply(actions: readonly RuleAction[]): void {
    for (const action of actions) {
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
          continue;
        }
        const done = action.kind === 'pulse' ? output.pulse(action.ms) : output.set(action.on);
        done.catch((err: unknown) =>
          this.#deps.log.error(
            { rule: action.rule, ...errorLogFields(err) },
            `rule action failed: ${describeAction(action)}`,
          ),
        );
      }
      this.#deps.onAction?.(action);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const deadline = this.#deps.engine.nextDeadline();
    if (deadline === null || this.#stopped) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        if (!this.#stopped) this.#apply(this.#deps.engine.tick(this.#now()));
      },
      Math.max(0, deadline - this.#now()),
    );
  }
}
