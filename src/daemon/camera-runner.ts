/**
 * One camera: its frame source feeding a latest-frame slot, a tracker and a pipeline, wired to the
 * MQTT output and the metrics. Built by the daemon; knows nothing about configuration files.
 */
import type { Logger } from 'pino';
import { DEFAULT_SOURCE_START_TIMEOUT_MS, startWithin } from '../capture/bounded-start.js';
import { createFrameSource, type FrameSourceConfig } from '../capture/create-frame-source.js';
import type { Frame } from '../capture/frame.js';
import type { FrameSink, FrameSource, SourceStatus } from '../capture/frame-source.js';
import { LatestFrameSlot } from '../capture/latest-frame-slot.js';
import { isFaceedgeError } from '../errors.js';
import type { DaemonMetrics } from '../observability/metrics.js';
import { FaceTracker, type TrackerOptions, type VisibleTrack } from '../pipeline/face-tracker.js';
import type { MotionGateOptions } from '../pipeline/motion-gate.js';
import { Pipeline, type Classifier, type Detector, type PipelineSink } from '../pipeline/pipeline.js';
import type { PairingRules } from '../classification/paired-decision.js';
import type { TrackRecognizer } from '../pipeline/track-recognizer.js';

export interface CameraRunnerOptions {
  readonly name: string;
  readonly source: FrameSourceConfig;
  readonly detector: Detector;
  readonly classifier: () => Classifier & {
    readonly id: string;
    readonly labels: readonly string[];
    /** Three or more labels: the model's unsure floor (FaceClassifier.unsureFloor). */
    readonly unsureFloor?: number;
  };
  /** The first model's name: events then carry `attributes` (issue 24 §3). Absent: no attributes. */
  readonly attributeName?: string;
  /** Further models per face, each on its own cadence (default: the tracker's). Default none. */
  readonly moreModels?: readonly {
    readonly name: string;
    readonly intervalMs?: number;
    readonly classifier: CameraRunnerOptions['classifier'];
    /** It has a head on the embedding: how the pair decides (src/classification/paired-decision.ts). */
    readonly pairing?: PairingRules;
  }[];
  readonly tracker: Omit<TrackerOptions, 'camera' | 'labels' | 'model' | 'attributeName' | 'moreModels'>;
  readonly minFacePx: number;
  /** Motion gating of this camera's detector; absent = the detector runs on every frame. */
  readonly motionGate?: MotionGateOptions;
  readonly sink: PipelineSink;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
  /** Source went online/offline (→ retained `<cam>/status/capture`). */
  readonly onStatus: (status: SourceStatus) => void;
  /** A frame was fully processed (its events are out): the live view's feed. Must return quickly. */
  readonly onFrame?: (frame: Frame) => void;
  /** How long the source may take to start before the camera counts as failed, ms. Default 30 000. */
  readonly startTimeoutMs?: number;
}

/** Inputs remembered as "frame skipped" so each is warned once; past this many the memory starts over. */
const MAX_REMEMBERED_SKIPS = 1000;

export class CameraRunner {
  readonly name: string;
  readonly slot = new LatestFrameSlot();
  /** performance.now() of the last frame that reached the pipeline; null before the first. */
  lastFrameAt: number | null = null;
  #source: FrameSource;
  /** Whether the current source's end ends the camera (false once it is stopped for a pause). */
  #gate = { forwardEnd: true };
  /** The state rules asked for; applied in order through #gating. */
  #wantRunning = true;
  #sourceRunning = false;
  #started = false;
  #gating: Promise<void> = Promise.resolve();
  #pipeline: Pipeline;
  #tracker: FaceTracker;
  #frames = 0;
  #recognitionErrors = 0;
  #stageTotals: Record<string, { ms: number; n: number }> = {};
  #reportedDrops = 0;
  #done: Promise<void> | null = null;
  /** Aborted by stop(): a source still starting gives up at once. */
  readonly #stopping = new AbortController();
  /** Inputs already warned as "frame skipped" (a looping folder's bad file fails again on every pass). */
  readonly #skippedInputs = new Set<string>();

  readonly #o: CameraRunnerOptions;

  constructor(o: CameraRunnerOptions) {
    this.#o = o;
    this.name = o.name;
    const log = o.log;
    this.#source = this.#newSource();
    const classifier = o.classifier();
    this.#tracker = new FaceTracker({
      ...o.tracker,
      camera: o.name,
      labels: classifier.labels,
      model: classifier.id,
      unsureFloor: classifier.unsureFloor,
      attributeName: o.attributeName,
      moreModels: o.moreModels?.map((m) => {
        const { labels, unsureFloor } = m.classifier();
        return { name: m.name, labels, unsureFloor, classifyIntervalMs: m.intervalMs, pairing: m.pairing };
      }),
    });
    const modelNames = [o.attributeName ?? 'first', ...(o.moreModels ?? []).map((m) => m.name)];
    this.#pipeline = new Pipeline({
      camera: o.name,
      slot: this.slot,
      detector: o.detector,
      classifier: o.classifier,
      moreClassifiers: o.moreModels && (() => (o.moreModels ?? []).map((m) => m.classifier())),
      tracker: this.#tracker,
      sink: o.sink,
      log,
      minFacePx: o.minFacePx,
      motionGate: o.motionGate,
      observer: {
        stage: (stage, ms) => this.#observeStage(stage, ms),
        frame: (frame, faces) => {
          o.onFrame?.(frame);
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
        frameError: (frame, err) => this.#frameSkipped(frame, err),
        // The pipeline logs each kind once; every failed frame is counted here (metrics, stats).
        recognitionError: (err) => {
          this.#recognitionErrors++;
          o.metrics.countRecognitionError(o.name, isFaceedgeError(err) ? err.code : err.name);
        },
        // Several models: each one's share of the classify stage, as stage `classify.<name>`.
        classify: o.moreModels?.length
          ? (model, ms) => this.#observeStage(`classify.${modelNames[model]}`, ms)
          : undefined,
      },
    });
  }

  /**
   * Warns about a frame the pipeline could not use, once per input, known by the frame's origin: a file of
   * a looping folder comes round with the same path on every pass (one warning), a camera's frame
   * (`cam#812`) never repeats (one each). Pixel frames have no origin and go by the message. Repeats are
   * logged at debug level.
   */
  #frameSkipped(frame: Frame, err: Error): void {
    const input = frame.image.kind === 'encoded' ? frame.image.origin : err.message;
    const repeat = this.#skippedInputs.has(input);
    if (!repeat) {
      if (this.#skippedInputs.size >= MAX_REMEMBERED_SKIPS) this.#skippedInputs.clear();
      this.#skippedInputs.add(input);
    }
    this.#o.log[repeat ? 'debug' : 'warn']({ seq: frame.seq, err: err.message }, 'frame skipped');
  }

  /** Starts the current source within the start timeout; false when stop() came first. */
  async #startSource(): Promise<boolean> {
    const outcome = await startWithin(
      this.#source,
      this.#o.startTimeoutMs ?? DEFAULT_SOURCE_START_TIMEOUT_MS,
      this.#stopping.signal,
    );
    return outcome === 'started';
  }

  /** The faces tracked in the last processed frame (drawn by the live view). */
  visibleTracks(): VisibleTrack[] {
    return this.#tracker.visibleTracks();
  }

  /** Frames processed so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Frames whose recognition failed so far. */
  get recognitionErrors(): number {
    return this.#recognitionErrors;
  }

  /** Per-stage time totals since the last call (for the stats topic); resets them. */
  takeStageTotals(): Record<string, { ms: number; n: number }> {
    const totals = this.#stageTotals;
    this.#stageTotals = {};
    return totals;
  }

  /**
   * A source feeding the slot. Its end (a file played out) ends the camera, unless the source was
   * stopped for a pause: then the pipeline keeps waiting for the next source's frames.
   */
  #newSource(): FrameSource {
    const o = this.#o;
    const gate = { forwardEnd: true };
    this.#gate = gate;
    const sink: FrameSink = this.slot.asSink({
      status: (status) => {
        o.log.info({ state: status.state, reason: status.reason }, 'capture status');
        o.onStatus(status);
      },
      // Recoverable by definition (a skipped frame or file, a camera process being restarted): the source carries on.
      error: (err) => o.log.warn({ code: err.code, err: err.message }, 'capture problem'),
    });
    return createFrameSource(
      { ...o.source, name: o.source.name ?? o.name },
      {
        sink: { ...sink, end: () => (gate.forwardEnd ? sink.end?.() : undefined) },
      },
    );
  }

  /**
   * Runs or pauses capture (input-gated cameras: "run only while the PIR sees motion"). Pausing stops
   * the source — a camera process really stops — and ends the open tracks; running starts a new source
   * (a file starts over). Before `start()` it only decides whether `start()` starts capture. Calls are
   * applied in order; the returned promise settles when this one has been applied (never rejects: a
   * source that cannot start is logged and reported offline, as at start).
   */
  setRunning(run: boolean): Promise<void> {
    this.#wantRunning = run;
    this.#gating = this.#gating.then(() => this.#applyGate());
    return this.#gating;
  }

  /** True while a rule wants capture paused (input-gated camera waiting for its input). */
  get paused(): boolean {
    return this.#started && !this.#wantRunning;
  }

  /** True while capture is running (not paused, started, and not failed). */
  get running(): boolean {
    return this.#sourceRunning;
  }

  async #applyGate(): Promise<void> {
    if (!this.#started || this.#wantRunning === this.#sourceRunning || this.slot.isEnded) return;
    const { log, onStatus } = this.#o;
    if (!this.#wantRunning) {
      this.#gate.forwardEnd = false;
      this.#sourceRunning = false;
      await this.#source.stop();
      await this.#pipeline.endTracks();
      onStatus({ state: 'offline', reason: 'paused by a rule', wallTimeMs: Date.now() });
      log.info('capture paused');
      return;
    }
    this.#source = this.#newSource();
    try {
      if (!(await this.#startSource())) return;
      this.#sourceRunning = true;
      log.info('capture resumed');
    } catch (err) {
      log.error({ err: (err as Error).message, code: (err as { code?: string }).code }, 'capture could not resume');
      onStatus({ state: 'offline', reason: `could not resume: ${(err as Error).message}`, wallTimeMs: Date.now() });
    }
  }

  /** Recognizes this camera's confirmed tracks (person, liveness in its events). Before `start`. */
  setRecognizer(recognizer: TrackRecognizer): void {
    this.#pipeline.setRecognizer(recognizer);
  }

  /** Names the classifier that produces this camera's events from now on. */
  setModel(id: string, unsureFloor?: number, pairing?: PairingRules): void {
    this.#tracker.setModel(id, unsureFloor, pairing);
  }

  /** Times a stage of one frame: the metrics, and the totals `stats` reads. */
  #observeStage(stage: string, ms: number): void {
    this.#o.metrics.observeStage(stage, ms, this.name);
    const acc = (this.#stageTotals[stage] ??= { ms: 0, n: 0 });
    acc.ms += ms;
    acc.n++;
  }

  /** A further model was swapped (same labels): its unsure floor and its pairing with a head from now on. */
  setAttributeModel(name: string, unsureFloor: number | undefined, pairing?: PairingRules): void {
    this.#tracker.setAttributeModel(name, unsureFloor ?? 0, pairing);
  }

  /** Applies new thresholds (run-time `options`) from the next frame on. */
  retune(tracker: CameraRunnerOptions['tracker'], minFacePx: number): void {
    this.#tracker.retune(tracker);
    this.#pipeline.minFacePx = minFacePx;
  }

  /**
   * Starts the source and the pipeline; `done` settles when a finite source has been fully processed.
   * When the source cannot start (missing or unreadable file, no camera, no start within
   * `startTimeoutMs`), the pipeline is stopped again so `done` still settles, and the source's
   * FaceedgeError is rethrown for the daemon to report. A `stop()` meanwhile ends the wait at once.
   */
  async start(): Promise<void> {
    this.#done = this.#pipeline.start();
    this.#started = true;
    if (!this.#wantRunning) {
      this.#o.onStatus({ state: 'offline', reason: 'paused by a rule', wallTimeMs: Date.now() });
      this.#o.log.info('capture paused until a rule runs it');
      return;
    }
    try {
      if (!(await this.#startSource())) return;
      this.#sourceRunning = true;
    } catch (err) {
      await this.stop();
      throw err;
    }
    // A rule may have paused the camera while its source was starting.
    if (!this.#wantRunning) await this.setRunning(false);
  }

  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /** Stops capture, lets the frame in flight finish and publishes `end` for open tracks. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wantRunning = false;
    this.#started = false;
    await this.#gating;
    this.#sourceRunning = false;
    await this.#source.stop();
    await this.#pipeline.stop();
  }
}
