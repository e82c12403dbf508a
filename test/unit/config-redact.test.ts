import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { REDACTED, redactConfig } from '../../src/config/redact-config.js';
import { applyRuntimeOptionsPatch, parseRuntimeOptionsPatch } from '../../src/config/runtime-options.js';
import { isFaceedgeError } from '../../src/errors.js';

describe('redactConfig', () => {
  it('hides the password, the TLS key and URL credentials, leaving the rest and the input intact', () => {
    const cfg = loadConfig({
      env: {
        FACEEDGE_MQTT__URL: 'mqtts://cam:urlsecret@broker:8883',
        FACEEDGE_MQTT__USERNAME: 'cam',
        FACEEDGE_MQTT__PASSWORD: 'hunter2',
        FACEEDGE_MQTT__TLS__CERT: '/etc/faceedge/client.pem',
        FACEEDGE_MQTT__TLS__KEY: '/etc/faceedge/client.key',
        FACEEDGE_HTTP__AUTH__USERNAME: 'viewer',
        FACEEDGE_HTTP__AUTH__PASSWORD: 'liveviewsecret',
        FACEEDGE_CAMERAS: '[{"name":"gate","source":{"type":"rtsp","path":"rtsp://admin:camsecret@10.0.0.5/stream1"}}]',
      },
    });
    const safe = redactConfig(cfg);
    const text = JSON.stringify(safe);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('urlsecret');
    expect(text).not.toContain('client.key');
    expect(text).not.toContain('camsecret');
    expect(text).not.toContain('liveviewsecret');
    expect(safe.http.auth).toEqual({ username: 'viewer', password: REDACTED });
    expect((safe.cameras[0]!.source as { path: string }).path).toBe(`rtsp://admin:${REDACTED}@10.0.0.5/stream1`);
    expect(safe.mqtt.password).toBe(REDACTED);
    expect(safe.mqtt.tls?.key).toBe(REDACTED);
    expect(safe.mqtt.url).toBe(`mqtts://cam:${REDACTED}@broker:8883`);
    expect(safe.mqtt.username).toBe('cam');
    expect(safe.mqtt.tls?.cert).toBe('/etc/faceedge/client.pem');
    expect(cfg.mqtt.password).toBe('hunter2');
    expect(cfg.http.auth?.password).toBe('liveviewsecret');
  });

  it('masks the password of an RTSP camera URL (bridge/info publishes the config)', () => {
    const cfg = loadConfig({
      env: {
        FACEEDGE_CAMERAS:
          '[{"name":"gate","source":{"type":"rtsp","path":"rtsp://admin:camsecret@10.0.0.7:554/stream1"}}]',
      },
    });
    const safe = redactConfig(cfg);
    expect(JSON.stringify(safe)).not.toContain('camsecret');
    expect(safe.cameras[0]!.source).toMatchObject({
      type: 'rtsp',
      path: `rtsp://admin:${REDACTED}@10.0.0.7:554/stream1`,
    });
    expect(cfg.cameras[0]!.source).toMatchObject({ path: 'rtsp://admin:camsecret@10.0.0.7:554/stream1' });
  });

  it('leaves absent secrets absent', () => {
    const safe = redactConfig(loadConfig({ env: {} }));
    expect(safe.mqtt.password).toBeUndefined();
    expect(safe.mqtt.tls).toBeUndefined();
  });
});

describe('runtime options', () => {
  const current = (() => {
    const cfg = loadConfig({ env: {} });
    return { detector: cfg.detector, tracker: cfg.tracker };
  })();

  it('applies a valid partial patch', () => {
    const patch = parseRuntimeOptionsPatch({ detector: { score_threshold: 0.7 }, tracker: { min_frames: 5 } });
    const next = applyRuntimeOptionsPatch(current, patch);
    expect(next.detector.score_threshold).toBe(0.7);
    expect(next.detector.nms_iou).toBe(0.3);
    expect(next.tracker.min_frames).toBe(5);
    expect(current.detector.score_threshold).toBe(0.5);
  });

  it('a patch changes only the keys it names, never resetting the others to their defaults', () => {
    const tuned = applyRuntimeOptionsPatch(
      current,
      parseRuntimeOptionsPatch({ detector: { nms_iou: 0.4 }, tracker: { update_interval_ms: 250 } }),
    );
    const patch = parseRuntimeOptionsPatch({ detector: { score_threshold: 0.6 }, tracker: { min_frames: 2 } });
    expect(patch).toEqual({ detector: { score_threshold: 0.6 }, tracker: { min_frames: 2 } });
    const next = applyRuntimeOptionsPatch(tuned, patch);
    expect(next.detector).toMatchObject({ score_threshold: 0.6, nms_iou: 0.4, min_face_px: 24 });
    expect(next.tracker).toMatchObject({ min_frames: 2, update_interval_ms: 250 });
  });

  it('rejects out-of-range values and keys that cannot change at run time, naming each', () => {
    expect.assertions(4);
    try {
      parseRuntimeOptionsPatch({ detector: { score_threshold: 3, model: 'full' }, camera: 'x' });
    } catch (err) {
      expect(isFaceedgeError(err, 'REQUEST_INVALID')).toBe(true);
      expect((err as Error).message).toContain('detector.score_threshold');
      expect((err as Error).message).toContain('detector.model: unknown key');
      expect((err as Error).message).toContain('camera: unknown key');
    }
  });
});
