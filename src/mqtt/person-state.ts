/**
 * The retained `<cam>/person` state (issue 23 §3): who the camera sees, from its track events.
 *
 * Payload (JSON, retained, QoS 1):
 *   {"person": "alice" | "unknown" | "none", "similarity": 0.972 (a named person's only) | null,
 *    "liveness": "live" | "attack" | "unknown" | null, "track": "door-17" | null}
 *
 * - `person` is the name of the latest decision among the camera's open tracks, `unknown` when that decision
 *   named nobody (a stranger, or an empty gallery), `none` while no decided track is open (at start, and
 *   once the last decided track ends). A track not decided yet changes nothing.
 * - It says who the face looks like, not that a door may open: `liveness` must be `live` for that, and the
 *   lock rules read the events, which carry both (`person`, `liveness`).
 * Never an embedding; names only.
 */
import { disclosedSimilarity, type TrackEvent, type TrackSnapshot } from '../pipeline/track-event.js';

export interface PersonState {
  readonly person: string;
  readonly similarity: number | null;
  readonly liveness: 'live' | 'attack' | 'unknown' | null;
  readonly track: string | null;
}

/** The state of a camera without a decided track. */
export const NO_PERSON: PersonState = { person: 'none', similarity: null, liveness: null, track: null };

/** True once recognition has said something about the track (a similarity, or a liveness verdict). */
function decided(s: TrackSnapshot): boolean {
  if (!s.person || !s.liveness) return false;
  return s.person.name !== null || s.person.similarity !== null || s.liveness.outcome !== 'unknown';
}

function stateOf(s: TrackSnapshot): PersonState {
  return {
    person: s.person?.name ?? 'unknown',
    // An unmatched face's similarity stays on the board (disclosedSimilarity says why).
    similarity: disclosedSimilarity(s.person?.name ?? null, s.person?.similarity ?? null),
    liveness: s.liveness?.outcome ?? null,
    track: s.id,
  };
}

/** One camera's decided open tracks, in decision order; the latest says who the camera sees. */
export class CameraPersonState {
  readonly #decided = new Map<string, PersonState>();

  /** Applies a frame's events; returns the new state when it changed, else null. */
  apply(events: readonly TrackEvent[]): PersonState | null {
    const before = this.current;
    for (const e of events) {
      const id = e.after.id;
      if (e.type === 'end') {
        this.#decided.delete(id);
        continue;
      }
      if (!decided(e.after)) continue;
      const next = stateOf(e.after);
      const known = this.#decided.get(id);
      if (known && JSON.stringify(known) === JSON.stringify(next)) continue;
      // The latest decision goes last (a map keeps insertion order).
      this.#decided.delete(id);
      this.#decided.set(id, next);
    }
    const after = this.current;
    return JSON.stringify(after) === JSON.stringify(before) ? null : after;
  }

  get current(): PersonState {
    let last: PersonState = NO_PERSON;
    for (const s of this.#decided.values()) last = s;
    return last;
  }
}
