/**
 * The daemon's GPIO side, as a part: opens the configured lines (outputs in their fail-safe state), keeps
 * the retained `gpio/<name>/state` of every output and input, carries out `gpio/<name>/set` commands
 * (each one audited, carried out or refused: src/mqtt/audit-trail.ts), and runs the rules — track events and
 * input values in; output pulses/sets and camera gating out, every action logged (by the RuleRunner),
 * published on `rules/action` and told on the bus (`ruleAction`).
 * Every line's state is told on the bus too (`gpioLine`), for the live view's board panel.
 * The person rules (locks) run in the same runner: each decision is written to the access log
 * (`<state_dir>/access.log`, src/rules/access-log.ts) and published on `<dev>/access`. They open only for
 * people the gallery holds now (`galleryChanged`, announced once at start by the recognition part).
 *
 * It starts before the cameras: outputs are safe and input-gated cameras paused before any frame.
 *
 *   const io = new GpioRules({ gpio, rules, env, mqtt, audit, setCameraRunning, log });
 *   await io.start();   io.event(e);   …   await io.close();   // outputs safe, states published
 */
import type { Logger } from 'pino';
import { applyGpioCommand, parseGpioCommand, type GpioCommand } from '../../gpio/gpio-mqtt.js';
import { GpioBank } from '../../gpio/gpio-bank.js';
import type { GpioConfig } from '../../gpio/gpio-config-schema.js';
import { FaceedgeError, isFaceedgeError } from '../../errors.js';
import type { AuditOutcome, AuditTrail } from '../../mqtt/audit-trail.js';
import type { MqttOutput } from '../../mqtt/mqtt-output.js';
import type { RequestOrigin } from '../../mqtt/request-origins.js';
import type { TrackEvent } from '../../pipeline/track-event.js';
import { describeAction, type RuleAction } from '../../rules/rule-action.js';
import { RuleRunner } from '../../rules/rule-runner.js';
import { RulesEngine } from '../../rules/rules-engine.js';
import type { RuleConfig } from '../../rules/rules-schema.js';
import type { GpioLineChange } from '../daemon-bus.js';
import { definePart, type DaemonPart } from '../daemon-part.js';
import { componentLogger } from '../../observability/logger.js';
import { join } from 'node:path';
import { accessRecord, publishedAccessRecord, type AccessDecision } from '../../rules/access-decision.js';
import { AccessEngine } from '../../rules/access-engine.js';
import { AccessLockout } from '../../rules/access-lockout.js';
import { LOCKOUT_FILE_NAME, LockoutStore } from '../../rules/lockout-store.js';
import { AccessLog } from '../../rules/access-log.js';
import { ACCESS_LOG_FILE_NAME, accessSchema, type AccessConfig } from '../../rules/access-schema.js';
import { ruleWarnings } from '../../rules/rule-references.js';

export interface GpioRulesOptions {
  readonly gpio: GpioConfig;
  readonly rules: readonly RuleConfig[];
  /** The person rules' lockout and access log. Default: the `access:` defaults. */
  readonly access?: AccessConfig;
  /** Where the access log is kept (`<dir>/access.log`); needed when the rules have a person rule. */
  readonly stateDir?: string;
  /** Environment of the libgpiod tools and line holders (PATH). */
  readonly env: NodeJS.ProcessEnv;
  readonly mqtt: Pick<MqttOutput, 'subscribe' | 'setRetained' | 'publish' | 'topics'>;
  /** Where each `gpio/<name>/set` command is recorded, carried out or refused. */
  readonly audit: Pick<AuditTrail, 'record'>;
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
  readonly #access: AccessEngine;
  readonly #accessLog: AccessLog | null;
  /** The lockout kept across restarts (with person rules only); read at start, written on every change. */
  readonly #lockoutStore: LockoutStore | null;
  readonly #lockout: AccessLockout;
  #bank: GpioBank | null = null;
  /** Input values read while the bank was opening, replayed to the rules once outputs exist. */
  #early: [string, boolean, boolean][] | null = [];
  #unsubscribe: (() => void) | null = null;
  /** The opening of the lines, once started: close() waits for it, so a bank opened late is closed too. */
  #opening: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: GpioRulesOptions) {
    this.#o = options;
    const { mqtt, log } = options;
    const access = options.access ?? accessSchema.parse({});
    this.#lockout = new AccessLockout(access.lockout, (state) => this.#lockoutStore?.save(state));
    this.#access = new AccessEngine(options.rules, this.#lockout);
    const stateDir = this.#access.active ? personRulesStateDir(options.stateDir) : null;
    this.#accessLog = stateDir === null ? null : new AccessLog(join(stateDir, ACCESS_LOG_FILE_NAME), access.log, log);
    this.#lockoutStore = stateDir === null ? null : new LockoutStore(join(stateDir, LOCKOUT_FILE_NAME), log);
    this.#runner = new RuleRunner({
      engine: new RulesEngine(options.rules),
      access: this.#access,
      onDecision: (decision) => this.#recordDecision(decision),
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
    this.#opening ??= this.#open();
    return this.#opening;
  }

  stop(): Promise<void> {
    return this.close();
  }

  /** A track event from a pipeline. */
  event(event: TrackEvent): void {
    this.#runner.event(event);
  }

  /**
   * The gallery now holds exactly `people` (names) at `version`: the locks open for no one else and forget
   * what they remember of anyone else. Until the first call no person rule opens.
   */
  galleryChanged(version: number, people: readonly string[]): void {
    this.#access.galleryChanged(version, people);
  }

  /** Every configured output and input with its current state (null: an input not read yet). */
  lines(): { outputs: { name: string; on: boolean }[]; inputs: { name: string; on: boolean | null }[] } {
    const bank = this.#bank;
    return {
      outputs: (bank?.outputs ?? []).map((o) => ({ name: o.name, on: o.state })),
      inputs: (bank?.inputs ?? []).map((i) => ({ name: i.name, on: i.value })),
    };
  }

  /**
   * Stops the rules, the set commands, and puts every output in its safe state (published). Idempotent. Called
   * while the lines are still opening (a stop right after start), it waits for them and closes them: otherwise
   * the bank would finish opening after the close and hold its lines, gpiomon and holders, with no owner.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // A failed opening closed what it had opened (GpioBank.open) and was reported by start().
      await this.#opening?.catch(() => undefined);
      this.#runner.stop();
      this.#unsubscribe?.();
      await this.#bank?.close();
      await this.#accessLog?.flush();
      await this.#lockoutStore?.flush();
    })();
    return this.#closing;
  }

  async #open(): Promise<void> {
    const { gpio, env, mqtt, log, devDir, onLine, rules } = this.#o;
    const locks = Object.entries(gpio.outputs).flatMap(([name, o]) => (o.lock ? [name] : []));
    for (const warning of ruleWarnings(rules, locks)) log.warn({ rule: warning.path[0] }, warning.message);
    await this.#restoreLockout();
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
      this.#unsubscribe = mqtt.subscribe(mqtt.topics.gpioSetFilter, (topic, payload, retained, origin) =>
        this.#onSet(topic, payload, retained, origin),
      );
  }

  /**
   * Takes back the lockout of the last run (attempts counted, cameras shut), before any event can reach the
   * rules. A damaged file shuts every camera for `duration_s`: a lock that cannot tell what it knew fails secure.
   */
  async #restoreLockout(): Promise<void> {
    const loaded = await this.#lockoutStore?.load();
    if (loaded?.kind === 'restored') this.#lockout.restore(loaded.snapshot, loaded.nowMs);
    if (loaded?.kind !== 'damaged') return;
    this.#o.log.error(
      { file: LOCKOUT_FILE_NAME, reason: loaded.reason },
      'the lockout state of the last run is damaged: every camera is locked out for access.lockout.duration_s (fail-secure)',
    );
    this.#lockout.lockEveryCamera(loaded.nowMs);
  }

  /** One lock decision: whole to the access log, to `<dev>/access` less an unknown face's similarity (logged by the runner). */
  #recordDecision(decision: AccessDecision): void {
    const { mqtt, log } = this.#o;
    const record = accessRecord(decision);
    void this.#accessLog?.write(record); // never rejects: a failed write is logged by the access log
    mqtt.publish(mqtt.topics.access, JSON.stringify(publishedAccessRecord(record)), { qos: 1 }).catch((err: Error) => {
      log.warn({ rule: decision.rule, err: err.message }, 'lock decision not published (it is in the access log)');
    });
  }

  /** A `gpio/<name>/set` command: carried out, or refused with a reason; audited either way. */
  #onSet(topic: string, payload: Buffer, retained: boolean, origin: RequestOrigin | null): void {
    const { log, mqtt, audit } = this.#o;
    const name = mqtt.topics.gpioNameOfSet(topic);
    if (name === null) return;
    const record = (outcome: AuditOutcome, detail: Record<string, unknown>) =>
      audit.record(origin ?? UNRECORDED, { action: 'gpio/set', target: name, outcome, detail });
    // A retained command would run again on every reconnect: a door unlocking after each broker restart.
    if (retained) {
      log.warn({ topic }, 'ignoring a retained GPIO command');
      return void record('refused', { reason: 'retained command (commands are one-shot)' });
    }
    const output = this.#bank?.output(name);
    if (!output) {
      log.warn({ gpio: name }, 'GPIO command for an output that is not configured');
      return void record('refused', { reason: 'no such output' });
    }
    let command: GpioCommand;
    try {
      command = parseGpioCommand(payload);
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      log.warn({ gpio: name, err: err.message }, 'malformed GPIO command ignored');
      return void record('refused', { code: err.code, error: err.message });
    }
    log.info({ gpio: name, command }, 'GPIO command');
    applyGpioCommand(output, command).then(
      () => record('accepted', { command }),
      (err: Error) => {
        log.error({ gpio: name, err: err.message }, 'GPIO command failed');
        const refused = isFaceedgeError(err) && err.code === 'REQUEST_INVALID';
        record(refused ? 'refused' : 'failed', { command, error: err.message });
      },
    );
  }
}

/** Where the access log and the lockout are kept; a lock without one is a composition error, not a default. */
function personRulesStateDir(stateDir: string | undefined): string {
  if (stateDir === undefined)
    throw new FaceedgeError('CONFIG_INVALID', 'person rules need a state_dir for their access log and lockout');
  return stateDir;
}

/** The origin of a command whose publisher is not known (the MQTT layer always gives one for a request topic). */
const UNRECORDED: RequestOrigin = { who: null, via: 'unknown' };

export const gpioRulesPart = definePart({
  name: 'gpio',
  slice: (config) => ({ gpio: config.gpio, rules: config.rules, access: config.access, stateDir: config.state_dir }),
  create: (slice, { bus, services, log }) => {
    const io = new GpioRules({
      ...slice,
      env: services.env,
      mqtt: services.mqtt,
      audit: services.audit,
      log: componentLogger(log, 'gpio'),
      // setRunning never rejects: a source that cannot resume is logged and reported offline there.
      setCameraRunning: (name, run) => void services.cameras.setRunning(name, run),
      onAction: (payload) => bus.emit('ruleAction', payload),
      onLine: (line) => bus.emit('gpioLine', line),
    });
    bus.on('trackEvents', (_camera, events) => {
      for (const event of events) io.event(event);
    });
    bus.on('galleryChanged', (contents) =>
      io.galleryChanged(
        contents.version,
        contents.people.map((p) => p.name),
      ),
    );
    return io;
  },
});
