import { describe, expect, it } from 'vitest';
import { decideLiveness } from '../../src/liveness/liveness-decision.js';
import type { PlanarMotionResult } from '../../src/liveness/planar-motion.js';

const temporal = (verdict: PlanarMotionResult['verdict']): PlanarMotionResult => ({
  verdict,
  parallax: 0.1,
  turn: 0.1,
  samples: 8,
});
const policy = { threshold: 0.5 };

describe('decideLiveness', () => {
  it('passes a track whose scored frames are live by median', () => {
    expect(decideLiveness([0.9, 0.2, 0.8], null, policy)).toMatchObject({ outcome: 'live', passiveMedian: 0.8 });
  });

  it('refuses a track whose median is below the threshold, however high one frame scored', () => {
    expect(decideLiveness([0.99, 0.1, 0.2], null, policy)).toMatchObject({ outcome: 'attack', passiveMedian: 0.2 });
  });

  it('says unknown, never live, with too few frames', () => {
    expect(decideLiveness([0.99, 0.99], null, policy).outcome).toBe('unknown');
    expect(decideLiveness([], null, policy)).toMatchObject({ outcome: 'unknown', passiveMedian: null });
    expect(decideLiveness([NaN, 0.9, Infinity], null, policy).outcome).toBe('unknown');
  });

  it('does not call a person an attacker on a planar verdict alone (measured unreliable)', () => {
    expect(decideLiveness([0.99, 0.99, 0.99], temporal('planar'), policy).outcome).toBe('live');
    expect(decideLiveness([0.99, 0.99, 0.99], temporal('planar'), { ...policy, requireTemporal: true }).outcome).toBe(
      'unknown',
    );
  });

  it('with requireTemporal, waits for temporal live', () => {
    const strict = { ...policy, requireTemporal: true };
    expect(decideLiveness([0.9, 0.9, 0.9], temporal('insufficient'), strict).outcome).toBe('unknown');
    expect(decideLiveness([0.9, 0.9, 0.9], null, strict).outcome).toBe('unknown');
    expect(decideLiveness([0.9, 0.9, 0.9], temporal('live'), strict).outcome).toBe('live');
    expect(decideLiveness([0.1, 0.1, 0.1], temporal('live'), strict).outcome).toBe('attack');
  });
});
