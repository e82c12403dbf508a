/**
 * Per-camera lockout of person rules: refused attempts (an unknown face, a failed liveness check) are counted
 * once per track within a sliding window; at `attempts` the camera is shut for `duration_s` — no person rule
 * of that camera fires, even for an enrolled person. Pure: the caller passes the time (engine ms).
 *
 * The state that matters to an attacker (the attempts in the window, the lockouts) is handed to `onChange`
 * after every change, so that it can be kept across a restart (src/rules/lockout-store.ts), and is taken back
 * with {@link AccessLockout.restore}. Which tracks were counted is not kept: a track of the new run is a new
 * attempt (a track the last run left open is ended at start, not seen again).
 */
import type { LockoutConfig } from './access-schema.js';

/** Tracks remembered per camera so that one track counts once; the oldest are forgotten past this. */
const MAX_COUNTED_TRACKS = 1000;

/** The key of {@link AccessLockout.lockouts} that stands for every camera (a damaged state file). */
export const EVERY_CAMERA = '*';

/** What a restart must not forget, in engine ms. */
export interface LockoutSnapshot {
  /** Per camera: the refused attempts within the window (oldest first), and when its lockout ends, if any. */
  readonly cameras: Readonly<Record<string, { readonly attempts: readonly number[]; readonly lockedUntil?: number }>>;
  /** Every camera is locked out until then (what a damaged state file leaves behind), if set. */
  readonly allLockedUntil?: number;
}

interface CameraAttempts {
  /** Times (ms) of the attempts within the window, oldest first; at most `attempts` of them. */
  times: number[];
  readonly counted: Set<string>;
  lockedUntil: number;
}

export class AccessLockout {
  readonly #config: LockoutConfig;
  readonly #onChange: ((snapshot: LockoutSnapshot) => void) | undefined;
  readonly #cameras = new Map<string, CameraAttempts>();
  #allLockedUntil = -Infinity;

  /**
   * @param config `access.lockout`.
   * @param onChange called with the new state after each counted attempt and each restore (persist it).
   */
  constructor(config: LockoutConfig, onChange?: (snapshot: LockoutSnapshot) => void) {
    this.#config = config;
    this.#onChange = onChange;
  }

  /** True while `camera` is locked out at `nowMs`. */
  lockedOut(camera: string, nowMs: number): boolean {
    return nowMs < Math.max(this.#allLockedUntil, this.#cameras.get(camera)?.lockedUntil ?? -Infinity);
  }

  /**
   * Counts a refused attempt of `track` at `camera` (once per track). Returns the count when this attempt
   * started a lockout, else null. Attempts during a lockout are counted but do not extend it.
   */
  attempt(camera: string, track: string, nowMs: number): number | null {
    const state = this.#camera(camera);
    if (state.counted.has(track)) return null;
    state.counted.add(track);
    if (state.counted.size > MAX_COUNTED_TRACKS) {
      const [oldest] = state.counted;
      state.counted.delete(oldest);
    }
    const windowStart = nowMs - this.#config.window_s * 1000;
    // Only the latest `attempts` can ever decide (the window forgets the oldest first): the rest is not kept.
    state.times = [...state.times.filter((t) => t > windowStart), nowMs].slice(-this.#config.attempts);
    let started: number | null = null;
    if (!this.lockedOut(camera, nowMs) && state.times.length >= this.#config.attempts) {
      started = state.times.length;
      state.lockedUntil = nowMs + this.#config.duration_s * 1000;
      state.times = [];
    }
    this.#onChange?.(this.snapshot(nowMs));
    return started;
  }

  /** Cameras locked out at `nowMs` ({@link EVERY_CAMERA} for all of them), with when each lockout ends (ms). */
  lockouts(nowMs: number): Record<string, number> {
    const out: Record<string, number> = {};
    if (nowMs < this.#allLockedUntil) out[EVERY_CAMERA] = this.#allLockedUntil;
    for (const [camera, s] of this.#cameras) if (nowMs < s.lockedUntil) out[camera] = s.lockedUntil;
    return out;
  }

  /** The state as of `nowMs`: attempts still in the window and lockouts not over. */
  snapshot(nowMs: number): LockoutSnapshot {
    const windowStart = nowMs - this.#config.window_s * 1000;
    const cameras: Record<string, { attempts: number[]; lockedUntil?: number }> = {};
    for (const [camera, s] of this.#cameras) {
      const attempts = s.times.filter((t) => t > windowStart);
      const locked = nowMs < s.lockedUntil;
      if (attempts.length > 0 || locked)
        cameras[camera] = { attempts, ...(locked ? { lockedUntil: s.lockedUntil } : {}) };
    }
    return nowMs < this.#allLockedUntil ? { cameras, allLockedUntil: this.#allLockedUntil } : { cameras };
  }

  /**
   * Takes back a state kept before a restart, mapped to engine ms, merged with what was counted since this run
   * began (attempts counted while the file was being read are kept, never overwritten; a lockout of either
   * holds). A lockout never ends later than a full `duration_s` from `nowMs` (a clock that went back cannot
   * lock a door for ever), and attempts from the future count as made now. Merged attempts that reach
   * `attempts` within the window lock the camera out, as the last of them would have.
   */
  restore(snapshot: LockoutSnapshot, nowMs: number): void {
    const latest = nowMs + this.#config.duration_s * 1000;
    const windowStart = nowMs - this.#config.window_s * 1000;
    // First: attempts made while every camera is locked out start no lockout of their own (as in attempt()).
    this.#allLockedUntil = Math.max(this.#allLockedUntil, Math.min(snapshot.allLockedUntil ?? -Infinity, latest));
    for (const [camera, saved] of Object.entries(snapshot.cameras)) {
      const state = this.#camera(camera);
      const restored = saved.attempts.map((t) => Math.min(t, nowMs));
      state.times = [...restored, ...state.times]
        .filter((t) => t > windowStart)
        .sort((a, b) => a - b)
        .slice(-this.#config.attempts);
      state.lockedUntil = Math.max(state.lockedUntil, Math.min(saved.lockedUntil ?? -Infinity, latest));
      if (!this.lockedOut(camera, nowMs) && state.times.length >= this.#config.attempts) {
        state.lockedUntil = Math.min((state.times.at(-1) ?? nowMs) + this.#config.duration_s * 1000, latest);
        state.times = [];
      }
    }
    this.#onChange?.(this.snapshot(nowMs));
  }

  /** Locks every camera out for `duration_s` from `nowMs`: what a lock does when it cannot tell what it knew. */
  lockEveryCamera(nowMs: number): void {
    this.#allLockedUntil = nowMs + this.#config.duration_s * 1000;
    this.#onChange?.(this.snapshot(nowMs));
  }

  #camera(camera: string): CameraAttempts {
    let state = this.#cameras.get(camera);
    if (!state) {
      state = { times: [], counted: new Set(), lockedUntil: -Infinity };
      this.#cameras.set(camera, state);
    }
    return state;
  }
}
