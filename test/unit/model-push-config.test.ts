/**
 * `models.push`: the bounds of MQTT model pushes in the board's config, with their schema limits, and
 * the default that leaves the receiver's own (one largest package, 120 s).
 */
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { parseConfig } from '../../src/config/load-config.js';

function problems(models: unknown): string[] {
  try {
    parseConfig({ models }, { hostname: 'pi' });
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}`);
    throw err;
  }
  return [];
}

describe('models.push', () => {
  it('is empty by default: the receiver applies its defaults', () => {
    expect(parseConfig({}, { hostname: 'pi' }).models.push).toEqual({});
  });

  it('takes a budget and a stall timeout, also as environment strings', () => {
    const cfg = parseConfig(
      { models: { push: { budget_bytes: '8388608', stall_timeout_s: '30' } } },
      { hostname: 'pi' },
    );
    expect(cfg.models.push).toEqual({ budget_bytes: 8 * 1024 * 1024, stall_timeout_s: 30 });
  });

  it('refuses values outside the bounds, and unknown keys', () => {
    expect(problems({ push: { budget_bytes: 1000 } })).toEqual(['models.push.budget_bytes']);
    expect(problems({ push: { budget_bytes: 2 * 1024 ** 3 } })).toEqual(['models.push.budget_bytes']);
    expect(problems({ push: { stall_timeout_s: 5 } })).toEqual(['models.push.stall_timeout_s']);
    expect(problems({ push: { stall_timeout_s: 1.5 } })).toEqual(['models.push.stall_timeout_s']);
    expect(problems({ push: { max_transfers: 4 } })).toEqual(['models.push.max_transfers']);
  });
});
