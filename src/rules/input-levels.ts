/**
 * What the person rules remember of GPIO inputs for their second factor: each input's level, since when it
 * holds it, and when it last *became* each level through an observed change. A level read at start (or an
 * input held for longer than a window) is no press: only a change seen while the daemon runs counts, so a
 * button stuck at boot or a wedged contact never satisfies a recognition. An input held active for longer than
 * its rule's window is reported once per holding ({@link InputLevels.heldTooLong}), for the log.
 */

/** A second-factor input as a person rule watches it: the level that counts as a press, and its window. */
export interface WatchedInput {
  readonly input: string;
  readonly active: boolean;
  /** The rule's window, s. */
  readonly within_s: number;
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

interface InputLevel {
  level: boolean;
  /** Engine ms since which the input holds `level` (for a level read at start: when it was read). */
  since: number;
  /** When the input last changed to each level, engine ms (a level read at start is not a change). */
  readonly becameAt: Map<boolean, number>;
}

export class InputLevels {
  readonly #inputs = new Map<string, InputLevel>();
  /** Per input, the start (engine ms) of the holding already reported as a fault. */
  readonly #faulted = new Map<string, number>();

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

  /** The inputs of `watched` held active past their window and not reported yet for this holding (now they are). */
  heldTooLong(watched: Iterable<WatchedInput>, nowMs: number): InputFault[] {
    const faults: InputFault[] = [];
    for (const w of watched) {
      const held = this.heldSince(w.input, w.active);
      if (held === null || nowMs - held <= w.within_s * 1000 || this.#faulted.get(w.input) === held) continue;
      this.#faulted.set(w.input, held);
      faults.push({ input: w.input, held_s: (nowMs - held) / 1000 });
    }
    return faults;
  }

  /** When `w`'s holding becomes a fault to report (engine ms), or null: not held, or reported already. */
  faultDeadline(w: WatchedInput): number | null {
    const held = this.heldSince(w.input, w.active);
    return held === null || this.#faulted.get(w.input) === held ? null : held + w.within_s * 1000 + 1;
  }
}
