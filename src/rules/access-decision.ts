/**
 * A lock decision of a person rule (src/rules/access-engine.ts), and the record that the access log writes and
 * `<dev>/access` publishes: who (a matched name, never an embedding or an image), when, camera, similarity,
 * liveness, rule, outcome and why. One definition, used by the log file, MQTT and the daemon's log line.
 */
import { disclosedLivenessScore, disclosedSimilarity, type LivenessVerdict } from '../pipeline/track-event.js';

/**
 * Why a person rule was granted or refused:
 * - `granted`: the door was opened;
 * - `unknown`: the face matched no enrolled person;
 * - `not_live`: the liveness check said `attack`, or never reached `live` while the track lasted;
 * - `not_permitted`: an enrolled person this rule does not open for;
 * - `not_enrolled`: a match naming someone the gallery does not hold now (removed since the track was
 *   recognized), or made before the lock was told who is enrolled;
 * - `low_similarity`: below the rule's `min_similarity`;
 * - `lockout`: the camera is locked out after repeated refused attempts;
 * - `no_second_factor`: the rule's input was not active within its window;
 * - `error`: a malformed or missing recognition result, or the lock output failed.
 */
export type AccessReason =
  | 'granted'
  | 'unknown'
  | 'not_live'
  | 'not_permitted'
  | 'not_enrolled'
  | 'low_similarity'
  | 'lockout'
  | 'no_second_factor'
  | 'error';

/** What the rule saw of the face: the contract fields of the track's snapshot, nothing more. */
export interface AccessSubject {
  readonly camera: string;
  /** The track id, e.g. `door-17`. */
  readonly track: string;
  /** The matched enrolled person; null when unknown (a name appears only when the person is matched). */
  readonly person: string | null;
  /**
   * Cosine similarity of the match (of the best candidate when unknown, in the access log only); null when none
   * was computed, and on `<dev>/access` when unknown ({@link publishedAccessRecord}).
   */
  readonly similarity: number | null;
  readonly liveness: LivenessVerdict['outcome'] | null;
  /** The liveness check's score (median P(live)); null before any frame was scored. */
  readonly liveness_score: number | null;
}

export interface AccessDecision extends AccessSubject {
  readonly outcome: 'granted' | 'denied';
  readonly reason: AccessReason;
  /** The person rule's id. */
  readonly rule: string;
  /** The second factor's input when the rule has one. */
  readonly second_factor?: string;
  /** On the refusal that started a lockout: the attempts counted and how long the camera stays shut, s. */
  readonly lockout?: { readonly attempts: number; readonly duration_s: number };
  /** Human words for the reason (`liveness attack`, `output door_lock failed: …`). */
  readonly detail?: string;
  /** Engine time of the decision, ms (monotonic). */
  readonly at: number;
}

/** The event name of a decision: every refusal is an `access_denied` event. */
export type AccessEvent = 'access_granted' | 'access_denied';

/** One line of the access log and one `<dev>/access` message. */
export interface AccessRecord extends Omit<AccessDecision, 'at'> {
  readonly event: AccessEvent;
  /** When the decision was taken: Unix seconds. */
  readonly time: number;
}

/** The record of `decision` taken at Unix time `timeS` (seconds). */
export function accessRecord(decision: AccessDecision, timeS = Date.now() / 1000): AccessRecord {
  const { at: _monotonic, ...rest } = decision;
  return { event: decision.outcome === 'granted' ? 'access_granted' : 'access_denied', time: timeS, ...rest };
}

/**
 * The `<dev>/access` message of `record`: the same record, less the similarity of a face that matched nobody and
 * the liveness score of a face not judged live (disclosedSimilarity, disclosedLivenessScore say why); the access log (0600, on the board) keeps the whole record.
 */
export function publishedAccessRecord(record: AccessRecord): AccessRecord {
  const similarity = disclosedSimilarity(record.person, record.similarity);
  const liveness_score = disclosedLivenessScore(record.liveness, record.liveness_score);
  if (similarity === record.similarity && liveness_score === record.liveness_score) return record;
  return { ...record, similarity, liveness_score };
}

/** One log line of a decision: `front-door: alice at door granted (similarity 0.81, live)`. */
export function describeDecision(d: AccessDecision): string {
  const who = d.person ?? 'unknown face';
  const sim = d.similarity === null ? 'no similarity' : `similarity ${d.similarity.toFixed(2)}`;
  const why = d.outcome === 'granted' ? 'granted' : `denied: ${d.reason}${d.detail ? ` (${d.detail})` : ''}`;
  return `${d.rule}: ${who} at ${d.camera} (track ${d.track}, ${sim}, liveness ${d.liveness ?? 'none'}) ${why}`;
}
