import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { loadConfig, parseConfig } from '../../src/config/load-config.js';
import { motionGateFor } from '../../src/config/motion-gate-schema.js';
import { DEFAULT_MOTION_GATE } from '../../src/pipeline/motion-gate.js';

describe('motion_gate and detector.threads config', () => {
  it("defaults: auto, the gate's own defaults; detector threads follow classifier.threads", () => {
    const cfg = parseConfig({}, { hostname: 'pi' });
    expect(cfg.motion_gate).toEqual({
      enabled: 'auto',
      threshold: 12,
      min_area: 0.01,
      keepalive_ms: 333,
      background_rate: 0.05,
      check_interval_ms: 333,
      hold_ms: 1000,
      tracked_interval_ms: 200,
    });
    expect(cfg.detector.threads).toBeUndefined();
  });

  it('auto gates live cameras and leaves file sources alone', () => {
    const { motion_gate } = parseConfig({}, { hostname: 'pi' });
    for (const live of ['rpicam', 'v4l2', 'rtsp', 'mjpeg_process'])
      expect(motionGateFor(motion_gate, live), live).toEqual(DEFAULT_MOTION_GATE);
    for (const file of ['image', 'folder', 'gif', 'video'])
      expect(motionGateFor(motion_gate, file), file).toBeUndefined();
  });

  it('true / false apply to every camera, also from env strings', () => {
    const on = loadConfig({
      env: { FACEEDGE_MOTION_GATE__ENABLED: 'true', FACEEDGE_MOTION_GATE__KEEPALIVE_MS: '1000' },
      hostname: 'pi',
    });
    expect(motionGateFor(on.motion_gate, 'gif')).toEqual({ ...DEFAULT_MOTION_GATE, keepaliveMs: 1000 });
    const off = loadConfig({
      env: { FACEEDGE_MOTION_GATE__ENABLED: 'off', FACEEDGE_DETECTOR__THREADS: '2' },
      hostname: 'pi',
    });
    expect(motionGateFor(off.motion_gate, 'rpicam')).toBeUndefined();
    expect(off.detector.threads).toBe(2);
  });

  it('refuses out-of-range values with their key paths, all at once', () => {
    let error: unknown;
    try {
      parseConfig(
        {
          motion_gate: { enabled: 'sometimes', min_area: 2, threshold: -1, background_rate: 0, speed: 1 },
          detector: { threads: 0 },
        },
        { hostname: 'pi' },
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigInvalidError);
    const paths = (error as ConfigInvalidError).issues.map((i) => i.path);
    for (const p of [
      'motion_gate.enabled',
      'motion_gate.min_area',
      'motion_gate.threshold',
      'motion_gate.background_rate',
      'detector.threads',
    ]) {
      expect(
        paths.some((x) => x.startsWith(p)),
        p,
      ).toBe(true);
    }
  });
});
