/**
 * The board's cameras: one CameraRunner per `cameras[]` entry, built before any part starts (the GPIO rules
 * pause input-gated cameras, the live view and the stats read them), started together by the cameras part
 * once everything they feed is up, and stopped together. Each runner tells the bus what it sees: track
 * events, face presence, capture status and processed frames.
 */
import type { Logger } from 'pino';
import type { CameraConfig, FaceedgeConfig, TrackerConfig } from '../config/config-schema.js';
import { motionGateFor } from '../config/motion-gate-schema.js';
import type { PairingRules } from '../classification/paired-decision.js';
import { isFaceedgeError, type FaceedgeError } from '../errors.js';
import type { FaceDetector } from '../inference/face-detector.js';
import { componentLogger } from '../observability/logger.js';
import type { DaemonMetrics } from '../observability/metrics.js';
import type { TrackerOptions } from '../pipeline/face-tracker.js';
import type { TrackJournal } from '../pipeline/track-journal.js';
import type { TrackRecognizer } from '../pipeline/track-recognizer.js';
import { CameraRunner } from './camera-runner.js';
import { warnUnpaired, type ClassifierSet, type NamedClassifier } from './classifier-set.js';
import type { DaemonBus } from './daemon-bus.js';
import type { RunTimeTuning } from './run-time-tuning.js';

export interface CameraSetOptions {
  readonly cameras: readonly CameraConfig[];
  readonly motionGate: FaceedgeConfig['motion_gate'];
  readonly detector: FaceDetector;
  /** Every model per face; the first one's decision is the event's `class`. */
  readonly classifiers: ClassifierSet;
  /** The tracker thresholds and minimum face size in force (they change at run time). */
  readonly tuning: RunTimeTuning;
  /** Track numbers continue after the highest one the journal has seen per camera. */
  readonly journal: TrackJournal;
  readonly metrics: DaemonMetrics;
  readonly bus: DaemonBus;
  /** The daemon's logger; each camera logs as component `camera`, with its name. */
  readonly log: Logger;
  /** Runs before the first camera starts (the demo's event printer subscribes there). */
  readonly beforeStart?: () => Promise<void>;
}

/** The tracker's options from the `tracker` config (or its run-time values). */
export function trackerOptions(t: TrackerConfig): Omit<TrackerOptions, 'camera' | 'labels' | 'model' | 'unsureFloor'> {
  return {
    iouThreshold: t.iou_threshold,
    maxMissedFrames: t.max_missed_frames,
    minFrames: t.min_frames,
    updateIntervalMs: t.update_interval_ms,
    hysteresis: t.hysteresis,
    unsureMargin: t.unsure_margin,
    classifyIntervalMs: t.classify_interval_ms,
  };
}

export class CameraSet {
  /** The runners, in config order. */
  readonly runners: readonly CameraRunner[];
  readonly #o: CameraSetOptions;
  readonly #failed = new Map<string, FaceedgeError>();

  constructor(options: CameraSetOptions) {
    this.#o = options;
    const { bus } = options;
    this.runners = options.cameras.map((camera) => this.#runner(camera));
    bus.on('modelChanged', (classifier) => {
      const pairing = this.#pairingAfterSwap(options.classifiers.first, classifier.sha256);
      for (const runner of this.runners) runner.setModel(classifier.id, classifier.unsureFloor, pairing);
    });
    bus.on('classifierChanged', (name, classifier) => {
      if (name === options.classifiers.first.name) return; // modelChanged above
      const pairing = this.#pairingAfterSwap(options.classifiers.byName(name), classifier.sha256);
      for (const runner of this.runners) runner.setAttributeModel(name, classifier.unsureFloor, pairing);
    });
    bus.on('optionsChanged', (o) => {
      for (const runner of this.runners) runner.retune(trackerOptions(o.tracker), o.detector.min_face_px);
    });
  }

  /**
   * The pairing of `model`'s head beside the image model now serving (push, reload, rollback: every swap comes
   * here once, for all cameras): the pair's calibration holds only beside the model file it was fitted with;
   * beside another, the image model decides alone, warned once per swap. Undefined for a model without a head.
   */
  #pairingAfterSwap(model: NamedClassifier, imageModelSha256: string): PairingRules | undefined {
    const pairing = model.head?.pairingFor(imageModelSha256) ?? undefined;
    if (pairing?.imageOnly) warnUnpaired(this.#o.log, model, imageModelSha256);
    return pairing;
  }

  get names(): string[] {
    return this.runners.map((c) => c.name);
  }

  /** Cameras whose source could not start, with the reason (a typed error). */
  get failed(): ReadonlyMap<string, FaceedgeError> {
    // In config order: the cameras start side by side, so the order they failed in is chance.
    const inOrder = new Map<string, FaceedgeError>();
    for (const { name } of this.runners) {
      const err = this.#failed.get(name);
      if (err) inOrder.set(name, err);
    }
    return inOrder;
  }

  /** Settles when every camera's source has ended (never, for live cameras). */
  get done(): Promise<void> {
    return Promise.all(this.runners.map((c) => c.done)).then(() => undefined);
  }

  /**
   * Runs or pauses the camera named `name` (a rule's input gate); unknown names are ignored. Settles once
   * applied and never rejects (see CameraRunner.setRunning).
   */
  setRunning(name: string, run: boolean): Promise<void> {
    return this.runners.find((c) => c.name === name)?.setRunning(run) ?? Promise.resolve();
  }

  /**
   * Starts every camera side by side, after `beforeStart`: one stuck source (a start is bounded, see
   * CameraRunner.start) must not hold the others. A camera that cannot start (unreadable file, missing device)
   * must not take the others down: its typed error is logged with its hint, told on the bus (`cameraFailed`),
   * and it counts as ended. Anything but a FaceedgeError is a bug and fails the start.
   */
  async start(): Promise<void> {
    await this.#o.beforeStart?.();
    await Promise.all(this.runners.map((runner) => this.#start(runner)));
  }

  async #start(runner: CameraRunner): Promise<void> {
    try {
      await runner.start();
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      this.#failed.set(runner.name, err);
      this.#o.bus.emit('cameraFailed', runner.name, err);
      this.#o.log.error(
        { camera: runner.name, code: err.code, err: err.message, hint: err.hint },
        'camera failed to start; the other cameras keep running',
      );
    }
  }

  /**
   * Every camera recognizes its confirmed tracks through `recognizer` (the recognition part, before the
   * cameras start): their events carry `person` and `liveness` from the first.
   */
  setRecognizer(recognizer: TrackRecognizer): void {
    for (const runner of this.runners) runner.setRecognizer(recognizer);
  }

  /** Stops every camera: capture ends, frames in flight finish, open tracks get their `end`. */
  async stop(): Promise<void> {
    await Promise.all(this.runners.map((c) => c.stop()));
  }

  #runner(camera: CameraConfig): CameraRunner {
    const { bus, tuning } = this.#o;
    const name = camera.name;
    return new CameraRunner({
      name,
      source: camera.source,
      detector: this.#o.detector,
      classifier: () => this.#o.classifiers.first.holder.current,
      attributeName: this.#o.classifiers.first.name,
      moreModels: this.#o.classifiers.more.map((m) => ({
        name: m.name,
        intervalMs: m.intervalMs,
        classifier: () => m.holder.current,
        ...(m.head?.pairing && { pairing: m.head.pairingFor(m.holder.current.sha256) ?? undefined }),
      })),
      motionGate: motionGateFor(this.#o.motionGate, camera.source.type),
      tracker: {
        ...trackerOptions(tuning.current.tracker),
        firstId: this.#o.journal.firstNumber(name),
        pairing:
          this.#o.classifiers.first.head?.pairingFor(this.#o.classifiers.first.holder.current.sha256) ?? undefined,
      },
      minFacePx: tuning.current.detector.min_face_px,
      sink: {
        events: (cam, events) => bus.emit('trackEvents', cam, events),
        facePresence: (cam, present) => bus.emit('facePresence', cam, present),
      },
      metrics: this.#o.metrics,
      log: componentLogger(this.#o.log, 'camera', { camera: name }),
      onStatus: (status) => bus.emit('captureStatus', name, status),
      onFrame: (frame) => bus.emit('frame', name, frame),
    });
  }
}
