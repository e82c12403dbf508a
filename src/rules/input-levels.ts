/**
 * What the person rules remember of GPIO inputs for their second factor: each input's level, since when it
 * holds it, and when it last *became* each level through an observed change. A level read at start (or an
 * input held for longer than a window) is no press: only a change seen while the daemon runs counts, so a
 * button stuck at boot or a wedged contact never satisfies a recognition.
 */

interface InputLevel {
  level: boolean;
  /** Engine ms since which the input holds `level` (for a level read at start: when it was read). */
  since: number;
  /** When the input last changed to each level, engine ms (a level read at start is not a change). */
  readonly becameAt: Map<boolean, number>;
}

export class InputLevels {
  readonly #inputs = new Map<string, InputLevel>();

  /**
   * Records `value` of input `name` at `nowMs`; `initial`: the level read at start (not a change). Returns
   * true when it changed (the first value counts as a change).
   */
  set(name: string, value: boolean, nowMs: number, initial = false): boolean {
    const state = this.#inputs.get(name);
    if (state?.level === value) return false;
    const becameAt = state?.becameAt ?? new Map<boolean, number>();
    if (!initial) becameAt.set(value, nowMs);
    this.#inputs.set(name, { level: value, since: nowMs, becameAt });
    return true;
  }

  /** True when input `name` changed to `level` at or after `sinceMs` (it may have changed back since). */
  becameSince(name: string, level: boolean, sinceMs: number): boolean {
    const at = this.#inputs.get(name)?.becameAt.get(level);
    return at !== undefined && at >= sinceMs;
  }

  /** Since when (engine ms) input `name` holds `level` without a break, or null when it is not at it now. */
  heldSince(name: string, level: boolean): number | null {
    const state = this.#inputs.get(name);
    return state?.level === level ? state.since : null;
  }
}
