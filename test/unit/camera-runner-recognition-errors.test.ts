/**
 * Recognition errors are counted (issue 23 hardening): the pipeline logs a kind of error once, and the
 * camera runner counts every frame whose recognition failed, in `/metrics`
 * (`faceedge_recognition_errors_total{camera,kind}`) and in the `stats` report (`recognition_errors_total`).
 * A real CameraRunner on a looping still image; stand-ins for the detector, the classifier and a recognizer
 * that always fails.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cameraSourceSchema } from '../../src/capture/camera-source-schema.js';
import { CameraRunner } from '../../src/daemon/camera-runner.js';
import { StatsReporter } from '../../src/daemon/parts/stats-part.js';
import { FaceedgeError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { DaemonMetrics } from '../../src/observability/metrics.js';
import type { Classifier, Detector } from '../../src/pipeline/pipeline.js';
import type { TrackIdentity, TrackRecognizer } from '../../src/pipeline/track-recognizer.js';
import { CENTRED_FACE as FACE } from '../helpers/pipeline-stand-ins.js';

const IMAGE = fileURLToPath(new URL('../fixtures/scenes/astronaut.png', import.meta.url));

class FailingRecognizer implements TrackRecognizer {
  calls = 0;
  observe(): Promise<void> {
    this.calls++;
    return Promise.reject(new FaceedgeError('INFERENCE_FAILED', 'the embedder died'));
  }
  takeChanges(): ReadonlyMap<string, TrackIdentity> {
    return new Map();
  }
  forget(): void {}
}

describe('CameraRunner: recognition errors', () => {
  it('counts every failed frame in /metrics and in stats, by camera and kind', async () => {
    const metrics = new DaemonMetrics({ processMetrics: false });
    const detector: Detector = { detect: () => Promise.resolve([FACE]) };
    const classifier = {
      id: 'm',
      labels: ['female', 'male'],
      alignment: { size: 64 },
      classify: () => Promise.resolve({ logit: 2 }),
    } satisfies Classifier & { id: string; labels: string[] };
    const runner = new CameraRunner({
      name: 'porch',
      source: cameraSourceSchema.parse({ type: 'image', path: IMAGE, loop: true, fps: 50 }),
      detector,
      classifier: () => classifier,
      tracker: { minFrames: 2, maxMissedFrames: 1, updateIntervalMs: 60_000 },
      minFacePx: 8,
      sink: { events: () => undefined, facePresence: () => undefined },
      metrics,
      log: silentLogger(),
      onStatus: () => undefined,
    });
    const recognizer = new FailingRecognizer();
    runner.setRecognizer(recognizer);
    await runner.start();
    const deadline = performance.now() + 20_000;
    while (recognizer.calls < 3 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await runner.stop();
    expect(recognizer.calls).toBeGreaterThanOrEqual(3);
    expect(runner.recognitionErrors).toBe(recognizer.calls);
    const text = await metrics.metricsText();
    expect(text).toContain(
      `faceedge_recognition_errors_total{camera="porch",kind="INFERENCE_FAILED"} ${recognizer.calls}`,
    );
    const stats = new StatsReporter({ cameras: [runner], delegate: () => 'cpu', publish: () => {}, intervalMs: 1000 });
    expect(stats.collect().recognition_errors_total).toEqual({ porch: recognizer.calls });
  }, 30_000);
});
