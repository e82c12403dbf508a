/**
 * What the person rules remember of GPIO inputs for their second factor: each input's level and when it last
 * left each level, so "was it active at any time since t" has an exact answer without keeping every edge.
 */

interface InputLevel {
  level: boolean;
  /** When the input last left each level, engine ms. */
  readonly leftAt: Map<boolean, number>;
}

export class InputLevels {
  readonly #inputs = new Map<string, InputLevel>();

  /** Records `value` of input `name` at `nowMs`; returns true when it changed (the first value counts as a change). */
  set(name: string, value: boolean, nowMs: number): boolean {
    const state = this.#inputs.get(name);
    if (!state) {
      this.#inputs.set(name, { level: value, leftAt: new Map() });
      return true;
    }
    if (state.level === value) return false;
    state.leftAt.set(state.level, nowMs);
    state.level = value;
    return true;
  }

  /** True when input `name` had the value `active` at any time from `sinceMs` until now. */
  wasSince(name: string, active: boolean, sinceMs: number): boolean {
    const state = this.#inputs.get(name);
    if (!state) return false;
    if (state.level === active) return true;
    const left = state.leftAt.get(active);
    return left !== undefined && left >= sinceMs;
  }
}
