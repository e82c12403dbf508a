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
import { personRules, remember, type AccessRuleStats, type PersonRule } from './person-rule.js';
import { personVerdict, type PersonCondition } from './person-verdict.js';
import type { PulseAction } from './rule-action.js';
import { InputLevels, type InputFault } from './input-levels.js';
import { trackMatches } from './rules-engine.js';
import type { RuleConfig } from './rules-schema.js';

/** What the engine asks for: pulses of lock outputs, and the decisions to log and publish. */
export interface AccessResult {
  readonly actions: PulseAction[];
  readonly decisions: AccessDecision[];
  /** Second-factor inputs found held active past their window (present only when there are some): log each. */
  readonly faults?: InputFault[];
}

/** Who the gallery holds, as {@link personKey}s, and the gallery version that said so. */
interface Enrolled {
  readonly version: number;
  readonly keys: ReadonlySet<string>;
}

export class AccessEngine {
  readonly #rules: PersonRule[];
  readonly #lockout: AccessLockout;
  readonly #inputs = new InputLevels();
  /** Null until the first gallery is announced: until then no match opens (a lock fails secure). */
  #enrolled: Enrolled | null = null;

  /**
   * @param rules the validated `rules:` section (only its person rules are taken).
   * @param lockout the `access.lockout` settings, or a lockout made with them (one whose state is kept across
   *   restarts: src/rules/lockout-store.ts).
   */
  constructor(rules: readonly RuleConfig[], lockout: LockoutConfig | AccessLockout) {
    this.#lockout = lockout instanceof AccessLockout ? lockout : new AccessLockout(lockout);
    this.#rules = personRules(rules);
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
    const watched = this.#rules.flatMap((rule) => rule.when.second_factor ?? []);
    const faults = this.#inputs.heldTooLong(watched, nowMs);
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
      const fault = factor ? this.#inputs.faultDeadline(factor) : null;
      if (fault !== null) at(fault);
    }
    return next;
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
