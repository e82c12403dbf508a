/**
 * The person rules (locks): pure and synchronous like the RulesEngine, told about track events, input values
 * and the passing of time, answering with pulses and lock decisions. A person rule opens only for a matched,
 * permitted, live face (src/rules/person-verdict.ts), at a camera not locked out (src/rules/access-lockout.ts),
 * with its second factor active within `within_s` in either order, at most once per track and per cooldown,
 * and only for a person the gallery holds now (told by {@link AccessEngine.galleryChanged}): a track event
 * still naming someone removed since it was recognized opens nothing.
 *
 * Decisions are logged once per track and reason: a track that is refused as `unknown` and later recognized is
 * logged twice (denied, then granted); one that stays unknown for 500 frames, once. A track that ends while its
 * verdict is still open (liveness never concluded) is logged with what held it back; a track never embedded is
 * not a decision and is not logged.
 */
import { personKey, type TrackEvent } from '../pipeline/track-event.js';
import type { AccessDecision, AccessReason, AccessSubject } from './access-decision.js';
import { AccessLockout } from './access-lockout.js';
import type { LockoutConfig } from './access-schema.js';
import { personVerdict, type PersonCondition } from './person-verdict.js';
import type { PulseAction } from './rule-action.js';
import { InputLevels } from './input-levels.js';
import { isPersonRule, trackMatches } from './rules-engine.js';
import { ruleId, type RuleConfig } from './rules-schema.js';

/** What the engine asks for: pulses of lock outputs, and the decisions to log and publish. */
export interface AccessResult {
  readonly actions: PulseAction[];
  readonly decisions: AccessDecision[];
  /** Second-factor inputs found held active past their window (present only when there are some): log each. */
  readonly faults?: InputFault[];
}

/**
 * A second-factor input active for longer than its rule's `within_s` (a stuck button, a wedged contact, or
 * one active since start): it does not count until it is released and pressed again. Reported once per
 * holding.
 */
export interface InputFault {
  readonly input: string;
  /** How long it has been held, s. */
  readonly held_s: number;
}

/** Counts of one person rule. */
export interface AccessRuleStats {
  readonly granted: number;
  readonly denied: number;
  /** Grants dropped because the rule was cooling down (the door had just been opened). */
  readonly suppressed: number;
}

/** Per-track entries remembered per rule; the oldest are forgotten past this (tracks that never ended). */
const MAX_TRACKS = 1000;

interface Waiting {
  readonly subject: AccessSubject;
  /** Engine ms until which the second factor may still come. */
  readonly until: number;
}

interface PersonRule {
  readonly id: string;
  readonly config: RuleConfig;
  readonly when: PersonCondition;
  readonly output: string;
  readonly pulseMs: number;
  lastFired: number;
  readonly grantedTracks: Map<string, true>;
  /** The last decision logged per track (`denied:unknown`), so that a reason is logged once per track. */
  readonly logged: Map<string, string>;
  /** Open verdicts per track: what to log if the track ends before they conclude. */
  readonly open: Map<string, { subject: AccessSubject; reason: AccessReason; detail: string }>;
  /** Recognized tracks waiting for the second factor. */
  readonly waiting: Map<string, Waiting>;
  granted: number;
  denied: number;
  suppressed: number;
}

/** Who the gallery holds, as {@link personKey}s, and the gallery version that said so. */
interface Enrolled {
  readonly version: number;
  readonly keys: ReadonlySet<string>;
}

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size <= MAX_TRACKS) return;
  const [oldest] = map.keys();
  map.delete(oldest);
}

export class AccessEngine {
  readonly #rules: PersonRule[] = [];
  readonly #lockout: AccessLockout;
  readonly #inputs = new InputLevels();
  /** Per input, the start (engine ms) of the holding already reported as a fault. */
  readonly #faulted = new Map<string, number>();
  /** Null until the first gallery is announced: until then no match opens (a lock fails secure). */
  #enrolled: Enrolled | null = null;

  /**
   * @param rules the validated `rules:` section (only its person rules are taken).
   * @param lockout the `access.lockout` settings, or a lockout made with them (one whose state is kept across
   *   restarts: src/rules/lockout-store.ts).
   */
  constructor(rules: readonly RuleConfig[], lockout: LockoutConfig | AccessLockout) {
    this.#lockout = lockout instanceof AccessLockout ? lockout : new AccessLockout(lockout);
    rules.forEach((config, index) => {
      if (!isPersonRule(config) || !config.when) return;
      const { output, pulse_ms: pulseMs } = config.then;
      // The rules schema requires both of a person rule: a rule without them is a bug, not a site's choice.
      if (output === undefined || pulseMs === undefined) throw new Error(`person rule ${index} without a pulse`);
      this.#rules.push({
        id: ruleId(config, index),
        config,
        when: config.when,
        output,
        pulseMs,
        lastFired: -Infinity,
        grantedTracks: new Map(),
        logged: new Map(),
        open: new Map(),
        waiting: new Map(),
        granted: 0,
        denied: 0,
        suppressed: 0,
      });
    });
  }

  /** True when the config has person rules. */
  get active(): boolean {
    return this.#rules.length > 0;
  }

  /** A track event from any camera. */
  onEvent(event: TrackEvent, nowMs: number): AccessResult {
    const out: AccessResult = { actions: [], decisions: [] };
    const track = event.after;
    for (const rule of this.#rules) {
      if (event.type === 'end') {
        this.#trackEnded(rule, track.id, nowMs, out);
        continue;
      }
      if (!trackMatches(rule.when, event)) continue;
      if (rule.config.once_per_track && rule.grantedTracks.has(track.id)) continue;
      const verdict = personVerdict(rule.when, track);
      if (verdict.kind !== 'match') rule.waiting.delete(track.id);
      if (verdict.kind === 'pending') {
        if (verdict.final !== null)
          remember(rule.open, track.id, { subject: verdict.subject, reason: verdict.final, detail: verdict.detail });
        else rule.open.delete(track.id);
      } else if (verdict.kind === 'denied') {
        rule.open.delete(track.id);
        this.#refuse(rule, verdict.subject, verdict.reason, verdict.detail, verdict.attempt, nowMs, out);
      } else {
        rule.open.delete(track.id);
        this.#grant(rule, [verdict.subject], nowMs, out, false);
      }
    }
    return out;
  }

  /** A value of GPIO input `name` (`initial`: the level read at start). */
  onInput(name: string, value: boolean, nowMs: number, initial = false): AccessResult {
    const out: AccessResult = { actions: [], decisions: [] };
    const changed = this.#inputs.set(name, value, nowMs, initial);
    if (initial || !changed) return out;
    for (const rule of this.#rules) {
      const factor = rule.when.second_factor;
      if (factor?.input !== name || value !== factor.active) continue;
      const ready = [...rule.waiting.values()].filter((w) => w.until >= nowMs).map((w) => w.subject);
      if (ready.length > 0) this.#grant(rule, ready, nowMs, out, true);
    }
    return out;
  }

  /**
   * The passing of time: recognitions whose second factor did not come in time are refused, and inputs held
   * active past their window are reported (once per holding).
   */
  tick(nowMs: number): AccessResult {
    const faults = this.#heldTooLong(nowMs);
    const out: AccessResult = { actions: [], decisions: [], ...(faults.length > 0 ? { faults } : {}) };
    for (const rule of this.#rules) {
      for (const [track, waiting] of rule.waiting) {
        if (waiting.until >= nowMs) continue;
        rule.waiting.delete(track);
        const input = rule.when.second_factor?.input ?? '';
        this.#deny(rule, waiting.subject, 'no_second_factor', `input ${input} not active in time`, nowMs, out);
      }
    }
    return out;
  }

  /** When {@link tick} next has something to do (engine ms), or null. */
  nextDeadline(): number | null {
    let next: number | null = null;
    const at = (t: number) => (next = next === null ? t : Math.min(next, t));
    for (const rule of this.#rules) {
      for (const w of rule.waiting.values()) at(w.until + 1);
      const factor = rule.when.second_factor;
      const held = factor ? this.#inputs.heldSince(factor.input, factor.active) : null;
      if (factor && held !== null && this.#faulted.get(factor.input) !== held) at(held + factor.within_s * 1000 + 1);
    }
    return next;
  }

  /** Second-factor inputs held active past their rule's window and not reported yet for this holding. */
  #heldTooLong(nowMs: number): InputFault[] {
    const faults: InputFault[] = [];
    for (const rule of this.#rules) {
      const factor = rule.when.second_factor;
      const held = factor ? this.#inputs.heldSince(factor.input, factor.active) : null;
      if (!factor || held === null || nowMs - held <= factor.within_s * 1000) continue;
      if (this.#faulted.get(factor.input) === held) continue;
      this.#faulted.set(factor.input, held);
      faults.push({ input: factor.input, held_s: (nowMs - held) / 1000 });
    }
    return faults;
  }

  /**
   * The gallery holds exactly `people` (names) at `version`: from now on a match opens only for one of them,
   * and every waiting or open verdict naming anyone else is forgotten, so that no later grant or log entry
   * carries a removed person's name. An announcement older than the one in force is ignored (the daemon's
   * start announcement racing a change made meanwhile).
   */
  galleryChanged(version: number, people: Iterable<string>): void {
    if (this.#enrolled && version < this.#enrolled.version) return;
    this.#enrolled = { version, keys: new Set([...people].map(personKey)) };
    for (const rule of this.#rules) {
      for (const [track, w] of rule.waiting) if (!this.#mayOpen(w.subject)) rule.waiting.delete(track);
      for (const [track, o] of rule.open) if (!this.#mayOpen(o.subject)) rule.open.delete(track);
    }
  }

  /** Counts per person rule id. */
  stats(): Record<string, AccessRuleStats> {
    const out: Record<string, AccessRuleStats> = {};
    for (const r of this.#rules) out[r.id] = { granted: r.granted, denied: r.denied, suppressed: r.suppressed };
    return out;
  }

  /** Cameras locked out now, with the engine ms each lockout ends. */
  lockouts(nowMs: number): Record<string, number> {
    return this.#lockout.lockouts(nowMs);
  }

  /** False for a named subject the gallery does not hold now (or before any gallery was announced). */
  #mayOpen(subject: AccessSubject): boolean {
    return subject.person === null || (this.#enrolled?.keys.has(personKey(subject.person)) ?? false);
  }

  #lockoutSeconds(subject: AccessSubject, nowMs: number): number {
    return ((this.#lockout.lockouts(nowMs)[subject.camera] ?? nowMs) - nowMs) / 1000;
  }

  /**
   * Opens for `subjects` (one pulse), unless their camera is locked out, the second factor is missing, or the
   * rule cools down.
   */
  #grant(rule: PersonRule, subjects: readonly AccessSubject[], nowMs: number, out: AccessResult, viaInput: boolean) {
    const factor = rule.when.second_factor;
    const open: AccessSubject[] = [];
    for (const subject of subjects) {
      if (!this.#mayOpen(subject)) {
        rule.waiting.delete(subject.track);
        const detail = this.#enrolled ? 'no longer in the gallery' : 'the lock has not been told who is enrolled yet';
        this.#deny(rule, subject, 'not_enrolled', detail, nowMs, out);
      } else if (this.#lockout.lockedOut(subject.camera, nowMs)) {
        rule.waiting.delete(subject.track);
        this.#deny(rule, subject, 'lockout', 'the camera is locked out after repeated refused attempts', nowMs, out);
      } else if (
        factor &&
        !viaInput &&
        !this.#inputs.becameSince(factor.input, factor.active, nowMs - factor.within_s * 1000)
      ) {
        if (!rule.waiting.has(subject.track))
          remember(rule.waiting, subject.track, { subject, until: nowMs + factor.within_s * 1000 });
      } else open.push(subject);
    }
    if (open.length === 0) return;
    if (nowMs - rule.lastFired < rule.config.cooldown_ms) {
      rule.suppressed++;
      return;
    }
    rule.lastFired = nowMs;
    const names = open.map((s) => s.person ?? 'unknown').join(', ');
    const via = factor ? ` and ${factor.input}` : '';
    out.actions.push({
      kind: 'pulse',
      output: rule.output,
      ms: rule.pulseMs,
      rule: rule.id,
      reason: `${open[0].camera}: ${names} recognized${via}`,
      at: nowMs,
    });
    for (const subject of open) {
      rule.waiting.delete(subject.track);
      rule.granted++;
      if (rule.config.once_per_track) remember(rule.grantedTracks, subject.track, true);
      // Every opening is logged, also a track's second one (once_per_track: false).
      const granted: AccessDecision = { ...subject, outcome: 'granted', reason: 'granted', rule: rule.id, at: nowMs };
      this.#log(rule, out, granted, factor, true);
    }
  }

  /** A refusal; an `attempt` is counted towards the camera's lockout, and says so if it started one. */
  #refuse(
    rule: PersonRule,
    subject: AccessSubject,
    reason: AccessReason,
    detail: string,
    attempt: boolean,
    nowMs: number,
    out: AccessResult,
  ): void {
    const started = attempt ? this.#lockout.attempt(subject.camera, subject.track, nowMs) : null;
    const lockout =
      started === null ? undefined : { attempts: started, duration_s: this.#lockoutSeconds(subject, nowMs) };
    this.#deny(rule, subject, reason, detail, nowMs, out, lockout);
  }

  #deny(
    rule: PersonRule,
    subject: AccessSubject,
    reason: AccessReason,
    detail: string,
    nowMs: number,
    out: AccessResult,
    lockout?: AccessDecision['lockout'],
  ): void {
    const decision: AccessDecision = {
      ...subject,
      outcome: 'denied',
      reason,
      rule: rule.id,
      detail,
      at: nowMs,
      lockout,
    };
    if (this.#log(rule, out, decision, rule.when.second_factor)) rule.denied++;
  }

  /** Adds `decision` unless (not `always`) the same outcome and reason was already logged for its track. */
  #log(
    rule: PersonRule,
    out: AccessResult,
    decision: AccessDecision,
    factor: PersonCondition['second_factor'],
    always = false,
  ): boolean {
    const key = `${decision.outcome}:${decision.reason}`;
    if (!always && rule.logged.get(decision.track) === key && decision.lockout === undefined) return false;
    remember(rule.logged, decision.track, key);
    const { lockout, ...rest } = decision;
    out.decisions.push({
      ...rest,
      ...(factor ? { second_factor: factor.input } : {}),
      ...(lockout ? { lockout } : {}),
    });
    return true;
  }

  #trackEnded(rule: PersonRule, track: string, nowMs: number, out: AccessResult): void {
    const open = rule.open.get(track);
    // A face that never proved live while it stood there (a photo that does not read as `attack`) is an attempt.
    if (open && !rule.logged.has(track))
      this.#refuse(rule, open.subject, open.reason, open.detail, open.reason === 'not_live', nowMs, out);
    rule.open.delete(track);
    rule.logged.delete(track);
    rule.grantedTracks.delete(track);
    // A recognition waiting for its second factor outlives its track: the person may turn to the keypad.
  }
}
