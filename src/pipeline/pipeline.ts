/**
 * One camera's processing loop: take the latest frame → decode → detect → align → classify → track →
 * hand events to the sink. Frames that arrive while a frame is in flight replace each other in the
 * LatestFrameSlot (counted as dropped); nothing queues.
 */
import type { Logger } from 'pino';
import type { Frame, RgbImage } from '../capture/frame.js';
import type { LatestFrameSlot } from '../capture/latest-frame-slot.js';
import { probeImage } from '../capture/probe-image.js';
import { isFaceedgeError } from '../errors.js';
import type { AlignOptions } from '../vision/align-face.js';
import {
  decodeForDetection,
  detectFaces,
  rgbDetectionImage,
  type DetectionImage,
} from '../vision/decode-for-detection.js';
import type { DetectedFace } from '../vision/face.js';
import { classifyFaces } from './classify-faces.js';
import type { FaceObservation, FaceTracker } from './face-tracker.js';
import { MotionGate, type MotionGateOptions } from './motion-gate.js';
import { PipelineRecognition } from './pipeline-recognition.js';
import type { TrackEvent } from './track-event.js';
import type { TrackRecognizer } from './track-recognizer.js';

/** The stages of one frame, in order: timed per frame for metrics, stats and the bench. */
export const PIPELINE_STAGES = ['decode', 'detect', 'align', 'classify', 'track', 'recognize', 'publish'] as const;
export type Stage = (typeof PIPELINE_STAGES)[number];

/** The parts of the detector the pipeline needs (FaceDetector implements it). */
export interface Detector {
  detect(image: RgbImage): Promise<DetectedFace[]>;
  /**
   * Side of the model's square input, pixels. When known, JPEG frames much larger than it are decoded
   * at a reduced scale for detection (src/vision/decode-for-detection.ts); absent: always in full.
   */
  readonly inputSize?: number;
}

/** The parts of the classifier the pipeline needs (FaceClassifier implements it). */
export interface Classifier {
  /** Crop geometry the model expects. */
  readonly alignment: AlignOptions;
  /** `scores`: one per label in log space (`Classification.scores`); needed for three or more labels. */
  classify(crop: Uint8Array): Promise<{ logit: number; scores?: readonly number[] }>;
}

/** Where a pipeline's results go (the MQTT publisher, the demo printer, a test recorder). */
export interface PipelineSink {
  /** Events of one frame, in order. May be async (e.g. an fsync'd outbox append). */
  events(camera: string, events: readonly TrackEvent[]): void | Promise<void>;
  /** Called when the camera goes from no reported face to some, and back. */
  facePresence(camera: string, present: boolean): void | Promise<void>;
}

/** Per-frame measurements, for metrics and the bench. */
export interface PipelineObserver {
  stage?(stage: Stage, ms: number): void;
  /**
   * Time one model spent classifying the `faces` of a frame it classified (some), ms: `model` 0 is
   * `classifier`, then `moreClassifiers`.
   */
  classify?(model: number, ms: number, faces: number): void;
  /**
   * A frame was fully processed: `faces` counts the faces found in it, `classified` those of them
   * classified in this frame (tracked faces are re-classified at most every `tracker.classify_interval_ms`).
   */
  frame?(frame: Frame, faces: number, classified: number): void;
  /** A frame could not be used (undecodable…); the loop goes on. */
  frameError?(frame: Frame, error: Error): void;
  /** Recognition failed for a frame (its tracker events still went out). */
  recognitionError?(error: Error): void;
}

export interface PipelineOptions {
  readonly camera: string;
  readonly slot: LatestFrameSlot;
  readonly detector: Detector;
  /** Current classifier; a function so `model/reload` can swap it between frames. */
  readonly classifier: () => Classifier;
  /**
   * Further models per face (issue 24 §3), in the tracker's `moreModels` order; a function for the same
   * reason. Default none.
   */
  readonly moreClassifiers?: () => readonly Classifier[];
  readonly tracker: FaceTracker;
  readonly sink: PipelineSink;
  readonly log: Logger;
  readonly observer?: PipelineObserver;
  /** Faces narrower than this (source pixels) are ignored: too few pixels to classify. Default 24. */
  readonly minFacePx?: number;
  /**
   * Motion gating (src/pipeline/motion-gate.ts): skip the detector on still frames while no track is
   * open. Absent: the detector runs on every frame (file sources, tests, evaluation).
   */
  readonly motionGate?: MotionGateOptions;
  /** Decode every frame in full, as builds before reduced decoding did (tests compare the two). Default false. */
  readonly fullDecode?: boolean;
  /** Decode the next frame while the current one is analysed (two frames in flight). Default true. */
  readonly overlapDecode?: boolean;
  /**
   * Who confirmed tracks are (issue 23): absent, no recognition and snapshots as before. The tracker must
   * have been told (`FaceTracker.recognizeIdentities`); {@link Pipeline.setRecognizer} does both.
   */
  readonly recognizer?: TrackRecognizer;
}

/** A decoded frame and what decoding it cost, ms. */
interface Decoded {
  readonly decoded: DetectionImage;
  readonly ms: number;
}

export class Pipeline {
  readonly #o: PipelineOptions;
  /** Aborts the loop's wait for a frame: by stop(), and by endTracks() to get the loop's attention. */
  #wait = new AbortController();
  #stopped = false;
  #ended = false;
  /** endTracks() callers waiting for the loop to end the open tracks. */
  #endTracksWaiters: (() => void)[] = [];
  #running: Promise<void> | null = null;
  #facePresent = false;
  readonly #gate: MotionGate | null;
  #recognition: PipelineRecognition | null = null;
  #unwatchRecognition: () => void = () => undefined;
  /**
   * The last analysed frame's own time: events published between frames are dated with it (the newest evidence
   * their decision used), so no event is ever dated after the next frame's.
   */
  #lastFrame: Frame | null = null;
  /** Faces narrower than this are ignored; adjustable at run time. */
  minFacePx: number;

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.minFacePx = options.minFacePx ?? 24;
    this.#gate = options.motionGate ? new MotionGate(options.motionGate) : null;
    if (options.recognizer) this.setRecognizer(options.recognizer);
  }

  /**
   * Recognizes confirmed tracks from the next frame on, and puts `person`/`liveness` into snapshots. Before start.
   * A decision made between frames is published at once, by the loop (see {@link #publishIdentities}).
   */
  setRecognizer(recognizer: TrackRecognizer): void {
    const { camera, tracker, log, observer } = this.#o;
    this.#unwatchRecognition();
    this.#recognition = new PipelineRecognition({
      camera,
      recognizer,
      tracker,
      log,
      onError: (err) => observer?.recognitionError?.(err),
    });
    this.#unwatchRecognition = this.#recognition.watch(() => this.#wakeForIdentities());
  }

  /** Starts the loop; the returned promise settles when the source has ended and all events are out. */
  start(): Promise<void> {
    this.#running ??= this.#loop();
    return this.#running;
  }

  /** Finishes the frame in flight, ends every track (publishing `end`), and resolves. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wait.abort(new Error('pipeline stopped'));
    await this.#running;
  }

  /**
   * Ends every open track (publishing `end`) while the loop keeps waiting for frames: for a camera
   * paused by a rule, whose faces are no longer watched. The loop does it between frames, after the
   * frames already captured, so no track outlives the call. Resolves when done.
   */
  endTracks(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    return new Promise((resolve) => {
      this.#endTracksWaiters.push(resolve);
      this.#wait.abort(new Error('end tracks'));
    });
  }

  /**
   * Two frames in flight: while one frame is detected, classified and tracked, the next one is already
   * taken from the slot and decoded (sharp decodes on the libuv pool, inference runs on its own worker
   * thread), so decoding and inference use both cores. Frames are still analysed one at a time, in order.
   */
  async #loop(): Promise<void> {
    const { log } = this.#o;
    let next = this.#take();
    for (;;) {
      const taken = await next;
      if (taken === 'aborted') {
        if (this.#stopped) break;
        this.#wait = new AbortController();
        await this.#betweenFrames();
        next = this.#take();
        continue;
      }
      if (taken === null) break; // source ended
      const overlap = this.#o.overlapDecode !== false;
      if (overlap) next = this.#take();
      const { frame, decoded } = taken;
      try {
        const result = await decoded;
        if ('error' in result) throw result.error;
        await this.#analyse(frame, result.decoded);
      } catch (err) {
        // One bad frame must never stop the camera.
        this.#o.observer?.frameError?.(frame, err as Error);
        if (!isFaceedgeError(err)) log.error({ err, seq: frame.seq }, 'frame failed');
      }
      if (!overlap) next = this.#take();
    }
    // The loop only ends while waiting, so no frame is left half-taken.
    this.#ended = true;
    this.#unwatchRecognition();
    await this.#endOpenTracks();
  }

  /**
   * The recognizer has a decision for this camera: the loop is woken (as `endTracks` wakes it) and publishes it
   * between frames, or, busy with a frame, publishes it with that frame's events. Only the loop touches the
   * tracker and the sink, so this cannot race a frame.
   */
  #wakeForIdentities(): void {
    if (this.#ended || this.#stopped) return;
    this.#wait.abort(new Error('identities decided'));
  }

  /**
   * The loop was woken between frames: ends the open tracks for endTracks() callers, or publishes the identities
   * decided since the last frame. A throw here (a sink, the tracker) is reported as a frame's would be, against
   * the last frame, and the loop goes on: it must never stop the camera.
   */
  async #betweenFrames(): Promise<void> {
    try {
      if (this.#endTracksWaiters.length > 0) await this.#endOpenTracks();
      else await this.#publishIdentities();
    } catch (err) {
      const frame = this.#lastFrame;
      if (frame) this.#o.observer?.frameError?.(frame, err as Error);
      if (!isFaceedgeError(err)) this.#o.log.error({ err, seq: frame?.seq }, 'publishing between frames failed');
    }
  }

  /** Publishes the identities decided since the last frame, dated with that frame's time (see #lastFrame). */
  async #publishIdentities(): Promise<void> {
    const at = this.#lastFrame ?? { timestampMs: 0, wallTimeMs: 0 };
    await this.#publish(this.#applyIdentities(at));
  }

  /**
   * The next frame from the slot, with its decode already started (its outcome captured, so a failed
   * decode is reported when the frame's turn comes, never as an unhandled rejection); null when the
   * source has ended, 'aborted' when stop() or endTracks() interrupted the wait.
   */
  async #take(): Promise<
    { frame: Frame; decoded: Promise<{ decoded: Decoded | null } | { error: unknown }> } | null | 'aborted'
  > {
    let frame: Frame | null;
    try {
      // A pending frame is returned even when the wait was aborted: captured frames are never skipped.
      frame = await this.#o.slot.next(this.#wait.signal);
    } catch {
      return 'aborted';
    }
    if (!frame) return null;
    const decoded = this.#decode(frame).then(
      (d) => ({ decoded: d }),
      (error: unknown) => ({ error }),
    );
    return { frame, decoded };
  }

  async #endOpenTracks(): Promise<void> {
    const waiters = this.#endTracksWaiters.splice(0);
    try {
      const now = { timestampMs: performance.now(), wallTimeMs: Date.now() };
      const events = this.#applyIdentities(now);
      events.push(...this.#o.tracker.flush(now.timestampMs, now.wallTimeMs));
      await this.#publish(events);
    } finally {
      // Even when publishing failed: the tracks are ended, and no caller waits forever.
      for (const resolve of waiters) resolve();
    }
  }

  /** Runs one frame through every stage. Exposed for tests and the bench. */
  async processFrame(frame: Frame): Promise<TrackEvent[]> {
    return this.#analyse(frame, await this.#decode(frame));
  }

  /**
   * Decodes a frame at the scale the detector needs; the faces to classify get their own decode of just
   * their region, in full resolution (#analyse).
   */
  async #decode(frame: Frame): Promise<Decoded | null> {
    // A still scene without tracks: most frames are not decoded (motion-gate.ts), only their header read,
    // so a broken frame is still reported (microseconds for a JPEG, src/capture/jpeg-header.ts).
    if (this.#gate && !this.#gate.wantsFrame(this.#o.tracker.state, frame.timestampMs)) {
      if (frame.image.kind === 'encoded') await probeImage(frame.image.data, { origin: frame.image.origin });
      return null;
    }
    const started = performance.now();
    if (frame.image.kind === 'rgb') return { decoded: rgbDetectionImage(frame.image), ms: performance.now() - started };
    const full = this.#o.fullDecode === true;
    const decoded = await decodeForDetection(frame.image.data, frame.image.origin, {
      inputSize: this.#o.detector.inputSize,
      full,
    });
    return { decoded, ms: performance.now() - started };
  }

  /** Everything after decoding: motion gate, detect, align, classify, track, publish. */
  async #analyse(frame: Frame, prepared: Decoded | null): Promise<TrackEvent[]> {
    const { detector, tracker, observer } = this.#o;
    this.#lastFrame = frame;
    if (!prepared) {
      const identities = this.#applyIdentities(frame);
      await this.#publish(identities);
      observer?.frame?.(frame, 0, 0);
      return identities;
    }
    const { decoded, ms: decodeMs } = prepared;
    let t = performance.now();
    const lap = (stage: Stage, extraMs = 0) => {
      const now = performance.now();
      observer?.stage?.(stage, now - t + extraMs);
      t = now;
    };
    // The gate decides here, in frame order and after the previous frame's tracks are known.
    const gate = this.#gate?.decide(decoded.image, tracker.trackCount > 0, frame.timestampMs);
    lap('decode', decodeMs);
    if (gate && !gate.detect) {
      const identities = this.#applyIdentities(frame);
      await this.#publish(identities);
      observer?.frame?.(frame, 0, 0);
      return identities;
    }
    const faces = (await detectFaces(detector, decoded)).filter((f) => f.box.width >= this.minFacePx);
    lap('detect');
    // Only the faces the tracker wants classified in this frame are cropped (once per crop geometry), from
    // a full-resolution decode of just the rectangle their crops read (the whole frame when decoded in full).
    const classifiers = [this.#o.classifier(), ...(this.#o.moreClassifiers?.() ?? [])];
    const due = tracker.classificationsDue(
      faces.map((f) => f.box),
      frame.timestampMs,
    );
    const { results, alignMs, classifyMs, classifiedBy } = await classifyFaces(decoded, faces, classifiers, due);
    observer?.stage?.('align', alignMs);
    t += alignMs; // classify: from the crops' end to now
    lap('classify');
    classifyMs.forEach((ms, model) => classifiedBy[model] > 0 && observer?.classify?.(model, ms, classifiedBy[model]));
    const observations: FaceObservation[] = faces.map((face, i) => {
      const [first, ...more] = results[i];
      const scoresOf = (r: (typeof more)[number]) => (r ? (r.scores ?? [0, r.logit]) : null);
      return {
        box: face.box,
        logit: first?.logit ?? null,
        scores: first?.scores ?? null,
        ...(more.length > 0 && { more: more.map(scoresOf) }),
      };
    });
    // Identities decided since the last frame go into the tracker first (no await in between), so the
    // tracker's own events of this frame carry them.
    const events = this.#applyIdentities(frame);
    events.push(...tracker.update(observations, frame.timestampMs, frame.wallTimeMs));
    lap('track');
    if (this.#recognition) {
      await this.#recognition.observe(faces, decoded, frame);
      events.push(...this.#applyIdentities(frame));
      lap('recognize');
    }
    await this.#publish(events);
    lap('publish');
    observer?.frame?.(frame, faces.length, classifiedBy[0]);
    return events;
  }

  /** The identities decided since the last call, as `update` events (none without recognition). */
  #applyIdentities(at: { timestampMs: number; wallTimeMs: number }): TrackEvent[] {
    return this.#recognition?.applyIdentities(at) ?? [];
  }

  async #publish(events: readonly TrackEvent[]): Promise<void> {
    const { sink, camera, tracker } = this.#o;
    this.#recognition?.forgetEnded(events);
    if (events.length > 0) await sink.events(camera, events);
    const present = tracker.activeCount > 0;
    if (present !== this.#facePresent) {
      this.#facePresent = present;
      await sink.facePresence(camera, present);
    }
  }
}
