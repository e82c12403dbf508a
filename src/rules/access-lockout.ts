/**
 * Per-camera lockout of person rules: refused attempts (an unknown face, a failed liveness check) are counted
 * once per track within a sliding window; at `attempts` the camera is shut for `duration_s` — no person rule
 * of that camera fires, even for an enrolled person. Pure: the caller passes the time (ms).
 */
import type { LockoutConfig } from './access-schema.js';

/** Tracks remembered per camera so that one track counts once; the oldest are forgotten past this. */
const MAX_COUNTED_TRACKS = 1000;

interface CameraAttempts {
  /** Times (ms) of the attempts within the window, oldest first. */
  times: number[];
  readonly counted: Set<string>;
  lockedUntil: number;
}

export class AccessLockout {
  readonly #config: LockoutConfig;
  readonly #cameras = new Map<string, CameraAttempts>();

  constructor(config: LockoutConfig) {
    this.#config = config;
  }

  /** True while `camera` is locked out at `nowMs`. */
  lockedOut(camera: string, nowMs: number): boolean {
    return nowMs < (this.#cameras.get(camera)?.lockedUntil ?? -Infinity);
  }

  /**
   * Counts a refused attempt of `track` at `camera` (once per track). Returns the count when this attempt
   * started a lockout, else null. Attempts during a lockout are counted but do not extend it.
   */
  attempt(camera: string, track: string, nowMs: number): number | null {
    let state = this.#cameras.get(camera);
    if (!state) {
      state = { times: [], counted: new Set(), lockedUntil: -Infinity };
      this.#cameras.set(camera, state);
    }
    if (state.counted.has(track)) return null;
    state.counted.add(track);
    if (state.counted.size > MAX_COUNTED_TRACKS) {
      const [oldest] = state.counted;
      state.counted.delete(oldest);
    }
    const windowStart = nowMs - this.#config.window_s * 1000;
    state.times = state.times.filter((t) => t > windowStart);
    state.times.push(nowMs);
    if (this.lockedOut(camera, nowMs) || state.times.length < this.#config.attempts) return null;
    const count = state.times.length;
    state.lockedUntil = nowMs + this.#config.duration_s * 1000;
    state.times = [];
    return count;
  }

  /** Cameras locked out at `nowMs`, with when each lockout ends (ms), for stats and health. */
  lockouts(nowMs: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [camera, s] of this.#cameras) if (nowMs < s.lockedUntil) out[camera] = s.lockedUntil;
    return out;
  }
}
