/** Plausible TrackEvents for output tests (no pipeline needed). */
import type { TrackEvent, TrackSnapshot } from '../../src/pipeline/track-event.js';

/** Snapshot of track `id` on `camera`; `n` varies the box and frame count so events differ. */
export function makeSnapshot(camera: string, id: string, n = 1, ended = false): TrackSnapshot {
  return {
    id,
    camera,
    box: { x: 100 + n, y: 80, width: 64, height: 64 },
    face_area: 64 * 64,
    class: n % 2 === 0 ? 'male' : 'female',
    score: 0.9,
    top_score: 0.95,
    frames: 3 + n,
    start_time: 1_700_000_000,
    end_time: ended ? 1_700_000_010 : null,
    model: 'faceedge-gender-test',
  };
}

/** A `new`/`update`/`end` event; `n` identifies it in assertions (`after.frames === 3 + n`). */
export function makeTrackEvent(camera: string, n: number, type: TrackEvent['type'] = 'update'): TrackEvent {
  const id = `${camera}-${n}`;
  return {
    type,
    before: type === 'new' ? null : makeSnapshot(camera, id, n - 1),
    after: makeSnapshot(camera, id, n, type === 'end'),
    frame_timestamp_ms: 1234.5,
  };
}
