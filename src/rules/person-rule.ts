/**
 * One person rule as the AccessEngine keeps it: its config, and what it remembers per track (decisions
 * logged, verdicts still open, recognitions waiting for their second factor, tracks granted) and its counts.
 * The per-track maps are bounded ({@link remember}): tracks that never end cannot grow them.
 */
import type { AccessReason, AccessSubject } from './access-decision.js';
import type { PersonCondition } from './person-verdict.js';
import { isPersonRule } from './rules-engine.js';
import { ruleId, type RuleConfig } from './rules-schema.js';

/** Counts of one person rule. */
export interface AccessRuleStats {
  readonly granted: number;
  readonly denied: number;
  /** Grants dropped because the rule was cooling down (the door had just been opened). */
  readonly suppressed: number;
}

/** Per-track entries remembered per rule; the oldest are forgotten past this (tracks that never ended). */
const MAX_TRACKS = 1000;

export interface Waiting {
  readonly subject: AccessSubject;
  /** Engine ms until which the second factor may still come. */
  readonly until: number;
}

export interface PersonRule {
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

/** Sets `key` as the newest entry of `map`, forgetting the oldest past {@link MAX_TRACKS}. */
export function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size <= MAX_TRACKS) return;
  const [oldest] = map.keys();
  map.delete(oldest);
}

/** The person rules of `rules` (the others are the RulesEngine's), with nothing remembered yet. */
export function personRules(rules: readonly RuleConfig[]): PersonRule[] {
  return rules.flatMap((config, index): PersonRule[] => {
    if (!isPersonRule(config) || !config.when) return [];
    const { output, pulse_ms: pulseMs } = config.then;
    // The rules schema requires both of a person rule: a rule without them is a bug, not a site's choice.
    if (output === undefined || pulseMs === undefined) throw new Error(`person rule ${index} without a pulse`);
    const rule: PersonRule = {
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
    };
    return [rule];
  });
}
