/**
 * What a person rule makes of one track snapshot, before lockout, cooldown and second factor: a match, a
 * refusal (with whether it counts as an attempt towards a lockout), or "not yet" (the recognizer or the
 * liveness check has not concluded). Pure; anything it cannot read is a refusal with reason `error`.
 */
import { personKey, type TrackSnapshot } from '../pipeline/track-event.js';
import type { AccessReason, AccessSubject } from './access-decision.js';
import { ANY_KNOWN_PERSON, requiresLive, type RuleConfig } from './rules-schema.js';

/** The `when:` of a person rule. */
export type PersonCondition = NonNullable<RuleConfig['when']>;

export type PersonVerdict =
  | { readonly kind: 'match'; readonly subject: AccessSubject }
  /** Not concluded yet; `final` is what it will be logged as if the track ends this way (null: nothing). */
  | {
      readonly kind: 'pending';
      readonly subject: AccessSubject;
      readonly final: AccessReason | null;
      readonly detail: string;
    }
  | {
      readonly kind: 'denied';
      readonly subject: AccessSubject;
      readonly reason: AccessReason;
      readonly detail: string;
      /** An unknown face or a failed liveness check: counted towards the camera's lockout. */
      readonly attempt: boolean;
    };

const LIVENESS_OUTCOMES: readonly unknown[] = ['live', 'attack', 'unknown'];

const isScore = (v: unknown): v is number | null => v === null || (typeof v === 'number' && Number.isFinite(v));

/** The contract fields of `track`, checked: throws a plain Error naming the malformed one. */
function subjectOf(track: TrackSnapshot): AccessSubject {
  const { person, liveness } = track;
  if (person !== undefined) {
    if (person === null || typeof person !== 'object') throw new Error('person is not an object');
    if (person.name !== null && (typeof person.name !== 'string' || person.name === ''))
      throw new Error('person.name is not a name or null');
    if (!isScore(person.similarity)) throw new Error('person.similarity is not a number or null');
  }
  if (liveness !== undefined) {
    if (liveness === null || typeof liveness !== 'object') throw new Error('liveness is not an object');
    if (!LIVENESS_OUTCOMES.includes(liveness.outcome)) throw new Error('liveness.outcome is not live/attack/unknown');
    if (!isScore(liveness.score)) throw new Error('liveness.score is not a number or null');
  }
  return {
    camera: track.camera,
    track: track.id,
    person: person?.name ?? null,
    similarity: person?.similarity ?? null,
    liveness: liveness?.outcome ?? null,
    liveness_score: liveness?.score ?? null,
  };
}

/** The subject of a track whose fields could not be read: its camera and id only. */
function bareSubject(track: TrackSnapshot): AccessSubject {
  const text = (v: unknown) => (typeof v === 'string' ? v : String(v));
  return {
    camera: text(track.camera),
    track: text(track.id),
    person: null,
    similarity: null,
    liveness: null,
    liveness_score: null,
  };
}

/**
 * The verdict of person rule `when` on `track` (a snapshot the rule's camera, class, score and frame conditions
 * already matched). Order: readable fields, a recognized person, liveness, the rule's list, its similarity.
 */
export function personVerdict(when: PersonCondition, track: TrackSnapshot): PersonVerdict {
  let subject: AccessSubject;
  try {
    subject = subjectOf(track);
  } catch (err) {
    const detail = `malformed recognition result: ${(err as Error).message}`;
    return { kind: 'denied', subject: bareSubject(track), reason: 'error', detail, attempt: false };
  }
  const denied = (reason: AccessReason, detail: string, attempt = false): PersonVerdict => ({
    kind: 'denied',
    subject,
    reason,
    detail,
    attempt,
  });
  const pending = (final: AccessReason | null, detail: string): PersonVerdict => ({
    kind: 'pending',
    subject,
    final,
    detail,
  });
  const mustBeLive = requiresLive(when);
  if (track.person === undefined) return pending('error', 'the track carries no recognition result');
  if (mustBeLive && track.liveness === undefined) return pending('error', 'the track carries no liveness result');
  if (subject.person === null) {
    // No similarity yet: the track was not embedded (too few good frames so far); nothing was decided.
    return subject.similarity === null
      ? pending(null, 'not recognized yet')
      : denied('unknown', 'no enrolled person matched', true);
  }
  if (mustBeLive) {
    if (subject.liveness === 'attack') return denied('not_live', 'liveness attack', true);
    if (subject.liveness !== 'live') return pending('not_live', 'liveness not concluded');
  }
  // Names are compared as the gallery keys them: a rule naming `alice` opens for enrolled `Alice`.
  const key = personKey(subject.person);
  const allowed = when.person === ANY_KNOWN_PERSON || [when.person ?? []].flat().some((n) => personKey(n) === key);
  if (!allowed) return denied('not_permitted', `${subject.person} is not on this rule`);
  if (when.min_similarity !== undefined && (subject.similarity ?? -Infinity) < when.min_similarity)
    return denied('low_similarity', `similarity below ${when.min_similarity}`);
  return { kind: 'match', subject };
}
