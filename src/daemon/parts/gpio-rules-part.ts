/**
 * The daemon's GPIO side, as a part: opens the configured lines (outputs in their fail-safe state), keeps
 * the retained `gpio/<name>/state` of every output and input, carries out `gpio/<name>/set` commands, and
 * runs the rules — track events and input values in; output pulses/sets and camera gating out, every
 * action logged (by the RuleRunner), published on `rules/action` and told on the bus (`ruleAction`).
 * Every line's state is told on the bus too (`gpioLine`), for the live view's board panel.
 *
 * It starts before the cameras: outputs are safe and input-gated cameras paused before any frame.
 *
 *   const io = new GpioRules({ gpio, rules, env, mqtt, setCameraRunning, log });
 *   await io.start();   io.event(e);   …   await io.close();   // outputs safe, states published
 */
import type { Logger } from 'pino';
import { applyGpioCommand, parseGpioCommand, type GpioCommand } from '../../gpio/gpio-mqtt.js';
import { GpioBank } from '../../gpio/gpio-bank.js';
import type { GpioConfig } from '../../gpio/gpio-config-schema.js';
import { isFaceedgeError } from '../../errors.js';
import type { MqttOutput } from '../../mqtt/mqtt-output.js';
import type { TrackEvent } from '../../pipeline/track-event.js';
import { describeAction, type RuleAction } from '../../rules/rule-action.js';
import { RuleRunner } from '../../rules/rule-runner.js';
import { RulesEngine } from '../../rules/rules-engine.js';
import type { RuleConfig } from '../../rules/rules-schema.js';
import type { GpioLineChange } from '../daemon-bus.js';
import { definePart, type DaemonPart } from '../daemon-part.js';
import { componentLogger } from '../../observability/logger.js';

export interface GpioRulesOptions {
  readonly gpio: GpioConfig;
  readonly rules: readonly RuleConfig[];
  /** Environment of the libgpiod tools and line holders (PATH). */
  readonly env: NodeJS.ProcessEnv;
  readonly mqtt: Pick<MqttOutput, 'subscribe' | 'setRetained' | 'publish' | 'topics'>;
  /** Runs or pauses a camera (input-gated cameras). */
  readonly setCameraRunning: (camera: string, run: boolean) => void;
  readonly log: Logger;
  /** Where gpiochip devices are looked for with `backend: auto`. Default `/dev`. */
  readonly devDir?: string;
  /** Every action a rule took, as published on `rules/action` (the live view's "last actions"). */
  readonly onAction?: (payload: Record<string, unknown>) => void;
  /** Every line once open, then each change of state. */
  readonly onLine?: (line: GpioLineChange) => void;
}

/** The `rules/action` payload: what was done, by which rule, why, and when (Unix seconds). */
export function ruleActionPayload(action: RuleAction): Record<string, unknown> {
  const { at: _monotonic, ...rest } = action;
  return { ...rest, description: describeAction(action), time: Date.now() / 1000 };
}

export class GpioRules implements DaemonPart {
  readonly #o: GpioRulesOptions;
  readonly #runner: RuleRunner;
  #bank: GpioBank | null = null;
  /** Input values read while the bank was opening, replayed to the rules once outputs exist. */
  #early: [string, boolean, boolean][] | null = [];
  #unsubscribe: (() => void) | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: GpioRulesOptions) {
    this.#o = options;
    const { mqtt, log } = options;
    this.#runner = new RuleRunner({
      engine: new RulesEngine(options.rules),
      output: (name) => this.#bank?.output(name),
      setCameraRunning: options.setCameraRunning,
      onAction: (action) => {
        const payload = ruleActionPayload(action);
        options.onAction?.(payload);
        mqtt.publish(mqtt.topics.rulesAction, JSON.stringify(payload), { qos: 1 }).catch((err: Error) => {
          log.warn({ rule: action.rule, err: err.message }, 'rule action not published (it was carried out)');
        });
      },
      log,
    });
  }

  /**
   * Opens the lines and subscribes to the set commands. Input-gated cameras are paused before this
   * resolves (start the cameras afterwards). Throws the bank's typed error when a line cannot be opened.
   */
  start(): Promise<void> {
    return this.#open();
  }

  stop(): Promise<void> {
    return this.close();
  }

  /** A track event from a pipeline. */
  event(event: TrackEvent): void {
    this.#runner.event(event);
  }

  /** Every configured output and input with its current state (null: an input not read yet). */
  lines(): { outputs: { name: string; on: boolean }[]; inputs: { name: string; on: boolean | null }[] } {
    const bank = this.#bank;
    return {
      outputs: (bank?.outputs ?? []).map((o) => ({ name: o.name, on: o.state })),
      inputs: (bank?.inputs ?? []).map((i) => ({ name: i.name, on: i.value })),
    };
  }

  /** Stops the rules, the set commands, and puts every output in its safe state (published). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#runner.stop();
      this.#unsubscribe?.();
      await this.#bank?.close();
    })();
    return this.#closing;
  }

  async #open(): Promise<void> {
    const { gpio, env, mqtt, log, devDir, onLine } = this.#o;
    const publishState = (name: string, on: boolean) =>
      mqtt.setRetained(mqtt.topics.gpioState(name), on ? 'ON' : 'OFF');
    this.#runner.start();
    const bank = await GpioBank.open(gpio, {
      env,
      log,
      devDir,
      onOutputState: (name, on) => {
        publishState(name, on);
        if (this.#bank) onLine?.({ name, kind: 'output', on });
      },
      onInputValue: (name, value, initial) => {
        publishState(name, value);
        if (this.#early) this.#early.push([name, value, initial]);
        else {
          onLine?.({ name, kind: 'input', on: value });
          this.#runner.input(name, value, initial);
        }
      },
    });
    this.#bank = bank;
    // Outputs start at their safe state without a change event: announce it.
    for (const output of bank.outputs) publishState(output.name, output.state);
    for (const line of this.lines().outputs) onLine?.({ ...line, kind: 'output' });
    for (const line of this.lines().inputs) onLine?.({ ...line, kind: 'input' });
    const early = this.#early ?? [];
    this.#early = null;
    for (const [name, value, initial] of early) {
      onLine?.({ name, kind: 'input', on: value });
      this.#runner.input(name, value, initial);
    }
    if (bank.outputs.length > 0)
      this.#unsubscribe = mqtt.subscribe(mqtt.topics.gpioSetFilter, (topic, payload, retained) =>
        this.#onSet(topic, payload, retained),
      );
  }

  #onSet(topic: string, payload: Buffer, retained: boolean): void {
    const { log, mqtt } = this.#o;
    const name = mqtt.topics.gpioNameOfSet(topic);
    if (name === null) return;
    // A retained command would run again on every reconnect: a door unlocking after each broker restart.
    if (retained) return void log.warn({ topic }, 'ignoring a retained GPIO command');
    const output = this.#bank?.output(name);
    if (!output) return void log.warn({ gpio: name }, 'GPIO command for an output that is not configured');
    let command: GpioCommand;
    try {
      command = parseGpioCommand(payload);
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      return void log.warn({ gpio: name, err: err.message }, 'malformed GPIO command ignored');
    }
    log.info({ gpio: name, command }, 'GPIO command');
    applyGpioCommand(output, command).catch((err: Error) =>
      log.error({ gpio: name, err: err.message }, 'GPIO command failed'),
    );
  }
}

export const gpioRulesPart = definePart({
  name: 'gpio',
  slice: (config) => ({ gpio: config.gpio, rules: config.rules }),
  create: (slice, { bus, services, log }) => {
    const io = new GpioRules({
      ...slice,
      env: services.env,
      mqtt: services.mqtt,
      log: componentLogger(log, 'gpio'),
      // setRunning never rejects: a source that cannot resume is logged and reported offline there.
      setCameraRunning: (name, run) => void services.cameras.setRunning(name, run),
      onAction: (payload) => bus.emit('ruleAction', payload),
      onLine: (line) => bus.emit('gpioLine', line),
    });
    bus.on('trackEvents', (_camera, events) => {
      for (const event of events) io.event(event);
    });
    return io;
  },
});
