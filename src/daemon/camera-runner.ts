/**
 * One camera: its frame source feeding a latest-frame slot, a tracker and a pipeline, wired to the
 * MQTT output and the metrics. Built by the daemon; knows nothing about configuration files.
 */
import type { Logger } from 'pino';
import { createFrameSource, type FrameSourceConfig } from '../capture/create-frame-source.js';
import type { FrameSource, SourceStatus } from '../capture/frame-source.js';
import { LatestFrameSlot } from '../capture/latest-frame-slot.js';
import type { DaemonMetrics } from '../observability/metrics.js';
import { FaceTracker, type TrackerOptions } from '../pipeline/face-tracker.js';
import { Pipeline, type Classifier, type Detector, type PipelineSink } from '../pipeline/pipeline.js';

export interface CameraRunnerOptions {
  readonly name: string;
  readonly source: FrameSourceConfig;
  readonly detector: Detector;
  readonly classifier: () => Classifier & { readonly id: string; readonly labels: readonly string[] };
  readonly tracker: Omit<TrackerOptions, 'camera' | 'labels' | 'model'>;
  readonly minFacePx: number;
  readonly sink: PipelineSink;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
  /** Source went online/offline (→ retained `<cam>/status/capture`). */
  readonly onStatus: (status: SourceStatus) => void;
}

export class CameraRunner {
  readonly name: string;
  readonly slot = new LatestFrameSlot();
  /** performance.now() of the last frame that reached the pipeline; null before the first. */
  lastFrameAt: number | null = null;
  #source: FrameSource;
  #pipeline: Pipeline;
  #tracker: FaceTracker;
  #frames = 0;
  #stageTotals: Record<string, { ms: number; n: number }> = {};
  #reportedDrops = 0;
  #done: Promise<void> | null = null;

  constructor(private readonly o: CameraRunnerOptions) {
    this.name = o.name;
    const log = o.log;
    this.#source = createFrameSource({ ...o.source, name: o.source.name ?? o.name } as FrameSourceConfig, {
      sink: this.slot.asSink({
        status: (status) => {
          log.info({ state: status.state, reason: status.reason }, 'capture status');
          o.onStatus(status);
        },
        // Recoverable by definition (a skipped frame or file, a camera process being restarted): the source carries on.
        error: (err) => log.warn({ code: err.code, err: err.message }, 'capture problem'),
      }),
    });
    const classifier = o.classifier();
    this.#tracker = new FaceTracker({ ...o.tracker, camera: o.name, labels: classifier.labels, model: classifier.id });
    this.#pipeline = new Pipeline({
      camera: o.name,
      slot: this.slot,
      detector: o.detector,
      classifier: o.classifier,
      tracker: this.#tracker,
      sink: o.sink,
      log,
      minFacePx: o.minFacePx,
      observer: {
        stage: (stage, ms) => {
          o.metrics.observeStage(stage, ms, o.name);
          const acc = (this.#stageTotals[stage] ??= { ms: 0, n: 0 });
          acc.ms += ms;
          acc.n++;
        },
        frame: (_frame, faces) => {
          this.lastFrameAt = performance.now();
          this.#frames++;
          o.metrics.countFrame(o.name);
          if (faces > 0) o.metrics.countFaces(o.name, faces);
          const { dropped } = this.slot.stats();
          if (dropped > this.#reportedDrops) {
            o.metrics.countDroppedFrames(o.name, dropped - this.#reportedDrops);
            this.#reportedDrops = dropped;
          }
        },
        frameError: (frame, err) => log.warn({ seq: frame.seq, err: err.message }, 'frame skipped'),
      },
    });
  }

  /** Frames processed so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Per-stage time totals since the last call (for the stats topic); resets them. */
  takeStageTotals(): Record<string, { ms: number; n: number }> {
    const totals = this.#stageTotals;
    this.#stageTotals = {};
    return totals;
  }

  /** Names the classifier that produces this camera's events from now on. */
  setModel(id: string): void {
    this.#tracker.setModel(id);
  }

  /** Applies new thresholds (run-time `options`) from the next frame on. */
  retune(tracker: CameraRunnerOptions['tracker'], minFacePx: number): void {
    this.#tracker.retune(tracker);
    this.#pipeline.minFacePx = minFacePx;
  }

  /**
   * Starts the source and the pipeline; `done` settles when a finite source has been fully processed.
   * When the source cannot start (missing or unreadable file, no camera), the pipeline is stopped again
   * so `done` still settles, and the source's FaceedgeError is rethrown for the daemon to report.
   */
  async start(): Promise<void> {
    this.#done = this.#pipeline.start();
    try {
      await this.#source.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /** Stops capture, lets the frame in flight finish and publishes `end` for open tracks. Idempotent. */
  async stop(): Promise<void> {
    await this.#source.stop();
    await this.#pipeline.stop();
  }
}
