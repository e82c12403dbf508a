/**
 * What the person rules remember of their second-factor inputs (src/rules/input-levels.ts): a level read at
 * start is no press, and an input held past its window is reported once per holding, with the deadline the
 * runner schedules for it.
 */
import { describe, expect, it } from 'vitest';
import { InputLevels, type WatchedInput } from '../../src/rules/input-levels.js';

const BUTTON: WatchedInput = { input: 'button', active: true, within_s: 10 };
/** The same input under a second rule with a longer window: one report per holding, not one per rule. */
const BUTTON_SLOW: WatchedInput = { ...BUTTON, within_s: 30 };

describe('InputLevels', () => {
  it('a level read at start is held but is no press', () => {
    const inputs = new InputLevels();
    inputs.set('button', true, 0, true);
    expect(inputs.heldSince('button', true)).toBe(0);
    expect(inputs.becameSince('button', true, -1)).toBe(false);
  });

  it('reports an input held past its window once per holding, and again after a release and a new press', () => {
    const inputs = new InputLevels();
    inputs.set('button', true, 1000);
    expect(inputs.faultDeadline(BUTTON)).toBe(11_001);
    expect(inputs.heldTooLong([BUTTON, BUTTON_SLOW], 11_000)).toEqual([]);
    expect(inputs.heldTooLong([BUTTON, BUTTON_SLOW], 11_001)).toEqual([{ input: 'button', held_s: 10.001 }]);
    expect(inputs.heldTooLong([BUTTON, BUTTON_SLOW], 40_000)).toEqual([]);
    expect(inputs.faultDeadline(BUTTON)).toBeNull();
    inputs.set('button', false, 41_000);
    expect(inputs.faultDeadline(BUTTON)).toBeNull();
    inputs.set('button', true, 42_000);
    expect(inputs.faultDeadline(BUTTON)).toBe(52_001);
    expect(inputs.heldTooLong([BUTTON], 60_000)).toEqual([{ input: 'button', held_s: 18 }]);
  });
});
