/**
 * The rules engine: pure and synchronous. It is told about track events, input values and the passing
 * of time, and answers with the actions to take; it never touches GPIO, cameras or the clock itself,
 * so every behaviour is a plain-data unit test.
 *
 * - Event rules fire when a track event matches, at most once per `cooldown_ms`, and (by default) once
 *   per track: a storm of matching events yields one action per cooldown window.
 * - Input rules either trigger on activation (pulse/set an output, with cooldown) or hold something
 *   while the input is active plus `hold_ms` (run a camera, keep an output on). A camera or output held
 *   by several rules stays on while any of them holds.
 */
import { FaceedgeError } from '../errors.js';
import type { TrackEvent } from '../pipeline/track-event.js';
import type { RuleAction } from './rule-action.js';
import { ruleId, type RuleConfig } from './rules-schema.js';

/** Fired/suppressed counts of one rule, for stats and health. */
export interface RuleStats {
  readonly fired: number;
  /** Matches dropped because the rule was cooling down. */
  readonly suppressed: number;
}

interface EventRule {
  readonly id: string;
  readonly config: RuleConfig;
  readonly when: NonNullable<RuleConfig['when']>;
  lastFired: number;
  readonly firedTracks: Set<string>;
  fired: number;
  suppressed: number;
}

interface InputRule {
  readonly id: string;
  readonly config: RuleConfig;
  readonly input: string;
  /** trigger: act on activation; hold: camera/output follows the input (+ hold_ms). */
  readonly mode: 'trigger' | 'hold';
  active: boolean | null;
  holding: boolean;
  holdUntil: number | null;
  lastFired: number;
  fired: number;
  suppressed: number;
}

/** Tracks remembered per rule for once_per_track; the oldest are forgotten past this. */
const MAX_REMEMBERED_TRACKS = 1000;

/**
 * A key the rules schema guarantees for this kind of rule (`when` or `when_input`; an `output` wherever no
 * `camera` is named: src/rules/rules-schema.ts). A rule without it here is a bug, named with the rule.
 */
function required<T>(rule: string, key: string, value: T | undefined): T {
  if (value === undefined) throw new FaceedgeError('CONFIG_INVALID', `rule ${rule} has no ${key}`);
  return value;
}

const asList = (value: string | readonly string[]): readonly string[] => (typeof value === 'string' ? [value] : value);

/**
 * True when `event` meets the event-type, camera, class, score, frame and attribute conditions of `when`.
 * A model the track has no decision of yet (no `attributes.<model>`) does not match.
 */
export function trackMatches(when: NonNullable<RuleConfig['when']>, event: TrackEvent): boolean {
  const track = event.after;
  if (!when.events.includes(event.type)) return false;
  if (when.camera !== undefined && !asList(when.camera).includes(track.camera)) return false;
  if (when.class !== 'any' && !asList(when.class).includes(track.class)) return false;
  if (track.score < when.min_score || track.frames < when.min_frames) return false;
  return Object.entries(when.attributes ?? {}).every(([model, wanted]) => {
    const decided = track.attributes?.[model];
    return decided !== undefined && wanted.label.includes(decided.label) && decided.score >= wanted.min_score;
  });
}

/** The attributes `when` asked for, as the track has them: `, age 13-19 0.81` (empty without attributes). */
function attributeReason(when: NonNullable<RuleConfig['when']>, track: TrackEvent['after']): string {
  return Object.keys(when.attributes ?? {})
    .map((model) => {
      const decided = track.attributes?.[model];
      return decided ? `, ${model} ${decided.label} ${decided.score.toFixed(2)}` : '';
    })
    .join('');
}

/** A person rule (`when.person`): decided by src/rules/access-engine.ts, not here. */
export const isPersonRule = (rule: RuleConfig): boolean => rule.when?.person !== undefined;

export class RulesEngine {
  readonly #eventRules: EventRule[] = [];
  readonly #inputRules: InputRule[] = [];
  /** Last state announced per held target (`camera:door`, `output:led`). */
  readonly #announced = new Map<string, boolean>();

  /** @param rules the validated `rules:` section (its person rules are left to the AccessEngine). */
  constructor(rules: readonly RuleConfig[]) {
    rules.forEach((config, index) => {
      const id = ruleId(config, index);
      if (isPersonRule(config)) return;
      if (config.when) {
        this.#eventRules.push({
          id,
          config,
          when: config.when,
          lastFired: -Infinity,
          firedTracks: new Set(),
          fired: 0,
          suppressed: 0,
        });
      } else {
        const holds =
          config.then.camera !== undefined || (config.then.pulse_ms === undefined && config.then.state === undefined);
        this.#inputRules.push({
          id,
          config,
          input: required(id, 'when_input', config.when_input),
          mode: holds ? 'hold' : 'trigger',
          active: null,
          holding: false,
          holdUntil: null,
          lastFired: -Infinity,
          fired: 0,
          suppressed: 0,
        });
      }
    });
  }

  /** Cameras that run only while an input rule holds them. */
  get gatedCameras(): readonly string[] {
    return [...new Set(this.#inputRules.flatMap((r) => (r.config.then.camera ? [r.config.then.camera] : [])))];
  }

  /**
   * The actions to take at start: every input-gated camera is paused until its input says otherwise.
   * Held outputs are taken to start off (outputs start in their safe state).
   */
  start(nowMs: number): RuleAction[] {
    const actions: RuleAction[] = [];
    for (const rule of this.#inputRules) {
      if (rule.mode !== 'hold') continue;
      const key = this.#targetOf(rule);
      if (this.#announced.has(key)) continue;
      this.#announced.set(key, false);
      if (rule.config.then.camera) {
        actions.push({
          kind: 'camera',
          camera: rule.config.then.camera,
          run: false,
          rule: rule.id,
          reason: `waiting for input ${rule.input}`,
          at: nowMs,
        });
      }
    }
    return actions;
  }

  /** A track event from any camera. */
  onEvent(event: TrackEvent, nowMs: number): RuleAction[] {
    const actions: RuleAction[] = [];
    const track = event.after;
    for (const rule of this.#eventRules) {
      if (trackMatches(rule.when, event)) {
        if (rule.config.once_per_track && rule.firedTracks.has(track.id)) continue;
        if (nowMs - rule.lastFired < rule.config.cooldown_ms) {
          rule.suppressed++;
        } else {
          rule.lastFired = nowMs;
          rule.fired++;
          if (rule.config.once_per_track) this.#remember(rule, track.id);
          const reason = `${track.camera}: track ${track.id} ${track.class} ${track.score.toFixed(2)}, ${track.frames} frames${attributeReason(rule.when, track)} (${event.type})`;
          actions.push(this.#outputAction(rule.id, rule.config, reason, nowMs));
        }
      }
      if (event.type === 'end') rule.firedTracks.delete(track.id);
    }
    return actions;
  }

  /**
   * A value of GPIO input `name`. `initial` marks the level read at start: it sets holds but does not
   * trigger (it is not an activation). Repeated values are harmless.
   */
  onInput(name: string, value: boolean, nowMs: number, initial = false): RuleAction[] {
    const actions: RuleAction[] = [];
    const changed: InputRule[] = [];
    for (const rule of this.#inputRules) {
      if (rule.input !== name) continue;
      const isActive = value === rule.config.active;
      const was = rule.active;
      rule.active = isActive;
      if (rule.mode === 'trigger') {
        if (isActive && was !== true && !initial) {
          if (nowMs - rule.lastFired < rule.config.cooldown_ms) {
            rule.suppressed++;
          } else {
            rule.lastFired = nowMs;
            rule.fired++;
            actions.push(this.#outputAction(rule.id, rule.config, `input ${name} active`, nowMs));
          }
        }
        continue;
      }
      if (isActive) {
        rule.holding = true;
        rule.holdUntil = null;
      } else if (rule.holding && rule.holdUntil === null) {
        if (rule.config.hold_ms > 0) rule.holdUntil = nowMs + rule.config.hold_ms;
        else rule.holding = false;
      }
      changed.push(rule);
    }
    return [
      ...actions,
      ...this.#announce(changed, nowMs, (rule) => `input ${rule.input} ${rule.active ? 'active' : 'inactive'}`),
    ];
  }

  /** The passing of time: ends holds whose `hold_ms` ran out. */
  tick(nowMs: number): RuleAction[] {
    const expired = this.#inputRules.filter((r) => r.holdUntil !== null && r.holdUntil <= nowMs);
    for (const rule of expired) {
      rule.holding = false;
      rule.holdUntil = null;
    }
    return this.#announce(expired, nowMs, (rule) => `input ${rule.input} inactive for ${rule.config.hold_ms} ms`);
  }

  /** When {@link tick} next has something to do (engine ms), or null: lets the caller sleep until then. */
  nextDeadline(): number | null {
    const times = this.#inputRules.flatMap((r) => (r.holdUntil === null ? [] : [r.holdUntil]));
    return times.length > 0 ? Math.min(...times) : null;
  }

  /** Counts per rule id. */
  stats(): Record<string, RuleStats> {
    const out: Record<string, RuleStats> = {};
    for (const r of [...this.#eventRules, ...this.#inputRules])
      out[r.id] = { fired: r.fired, suppressed: r.suppressed };
    return out;
  }

  #remember(rule: EventRule, trackId: string): void {
    rule.firedTracks.add(trackId);
    // A Set iterates in insertion order: drop the oldest when tracks end without an `end` event.
    if (rule.firedTracks.size <= MAX_REMEMBERED_TRACKS) return;
    const [oldest] = rule.firedTracks;
    rule.firedTracks.delete(oldest);
  }

  #outputAction(rule: string, config: RuleConfig, reason: string, at: number): RuleAction {
    const { pulse_ms: ms, state } = config.then;
    const output = required(rule, 'then.output', config.then.output);
    if (ms !== undefined) return { kind: 'pulse', output, ms, rule, reason, at };
    return { kind: 'set', output, on: state !== 'off', rule, reason, at };
  }

  #targetOf(rule: InputRule): string {
    return rule.config.then.camera !== undefined
      ? `camera:${rule.config.then.camera}`
      : `output:${rule.config.then.output}`;
  }

  /** Announces held targets whose combined state changed, blaming the first changed rule for each. */
  #announce(changed: readonly InputRule[], nowMs: number, reasonOf: (rule: InputRule) => string): RuleAction[] {
    const actions: RuleAction[] = [];
    const done = new Set<string>();
    for (const rule of changed) {
      const key = this.#targetOf(rule);
      if (done.has(key)) continue;
      done.add(key);
      const held = this.#inputRules.some((r) => r.mode === 'hold' && r.holding && this.#targetOf(r) === key);
      if (this.#announced.get(key) === held) continue;
      this.#announced.set(key, held);
      rule.fired++;
      const base = { rule: rule.id, reason: reasonOf(rule), at: nowMs };
      const { camera, output } = rule.config.then;
      actions.push(
        camera !== undefined
          ? { kind: 'camera', camera, run: held, ...base }
          : { kind: 'set', output: required(rule.id, 'then.output', output), on: held, ...base },
      );
    }
    return actions;
  }
}
