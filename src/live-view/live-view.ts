/**
 * The live view's state: what the daemon feeds in (processed frames, track events, capture status,
 * rule actions) and what pages read out (overlay pictures per camera, one Server-Sent Events stream
 * with events and the board state). The HTTP side is LiveViewRoutes; this class never changes the
 * daemon's state, it only watches.
 *
 * Nothing here costs anything while no page is open: `frame()` returns at once without viewers,
 * `events()` only remembers the last events, and the board tick runs only while a page is connected.
 */
import type { Logger } from 'pino';
import type { SourceStatus } from '../capture/frame-source.js';
import type { Frame, RgbImage } from '../capture/frame.js';
import type { VisibleTrack } from '../pipeline/face-tracker.js';
import type { TrackEvent, TrackSnapshot } from '../pipeline/track-event.js';
import type { BoardFacts, BoardState, CameraState } from './board-state.js';
import { faceCropDataUrl } from './face-crop.js';
import { framePixels } from './frame-pixels.js';
import { OverlayFeed } from './overlay-feed.js';
import type { SseStream } from './sse-stream.js';

/** The parts of a camera the live view reads (CameraRunner implements it). */
export interface LiveViewCamera {
  readonly name: string;
  readonly frames: number;
  readonly paused: boolean;
  readonly slot: { stats(): { readonly dropped: number } };
  visibleTracks(): readonly VisibleTrack[];
}

/** One event as the page lists it. */
export interface LiveEvent {
  readonly type: TrackEvent['type'];
  readonly camera: string;
  readonly track: TrackSnapshot;
  /** Wall-clock time the live view saw it, ms since the epoch. */
  readonly time: number;
  /** JPEG data URL of the face (only with `http.snapshots: true`, and not for `end`). */
  readonly crop?: string;
}

export interface LiveViewOptions {
  readonly cameras: readonly LiveViewCamera[];
  /** Board-wide facts; called on each tick while a page is open. */
  readonly board: () => BoardFacts;
  /** The serving classifier's labels, [first, second] (their order picks the box colours); read per picture. */
  readonly labels: () => readonly string[];
  /** `http.snapshots`: face crops in events. */
  readonly snapshots: boolean;
  readonly log: Logger;
  /** Most pictures per second per camera; a camera below it is shown at its own rate. Default 30. */
  readonly maxFps?: number;
  /** Period of `board` events, ms. Default 1000. */
  readonly tickMs?: number;
}

/** Events kept for a page that opens later (newest last). */
export const RECENT_EVENTS = 50;
/** Rule actions kept (newest first). */
export const RECENT_RULE_ACTIONS = 10;

export class LiveView {
  readonly #o: LiveViewOptions;
  readonly #feeds = new Map<string, OverlayFeed>();
  readonly #capture = new Map<string, { state: string; reason: string | null }>();
  readonly #streams = new Set<SseStream>();
  readonly #recent: LiveEvent[] = [];
  readonly #ruleActions: Record<string, unknown>[] = [];
  /** Per camera: events of the frame being processed, waiting for that frame to cut their crops. */
  readonly #awaitingCrop = new Map<string, readonly TrackEvent[]>();
  /** Per camera: event hand-out in order, even when a crop takes longer than the next event. */
  readonly #eventChains = new Map<string, Promise<void>>();
  #fpsBase = new Map<string, { frames: number; at: number }>();
  #timer: NodeJS.Timeout | null = null;

  constructor(options: LiveViewOptions) {
    this.#o = options;
    for (const camera of options.cameras) {
      this.#feeds.set(
        camera.name,
        new OverlayFeed({ labels: options.labels, log: options.log, maxFps: options.maxFps }),
      );
      this.#capture.set(camera.name, { state: 'starting', reason: null });
    }
  }

  /** The overlay feed of `camera`, or undefined for an unknown name. */
  feed(camera: string): OverlayFeed | undefined {
    return this.#feeds.get(camera);
  }

  get cameraNames(): string[] {
    return [...this.#feeds.keys()];
  }

  get snapshots(): boolean {
    return this.#o.snapshots;
  }

  /** A frame fully processed by `camera`'s pipeline (its events already handed to `events()`). */
  frame(camera: string, frame: Frame): void {
    const cam = this.#o.cameras.find((c) => c.name === camera);
    if (cam) this.#feeds.get(camera)?.offer(frame, () => cam.visibleTracks());
    const waiting = this.#awaitingCrop.get(camera);
    if (waiting) {
      this.#awaitingCrop.delete(camera);
      // Pixels are taken now: the chain may run after the next frame has arrived.
      const pixels = framePixels(frame);
      pixels.catch(() => undefined);
      for (const e of waiting) this.#handOut(camera, e, e.type === 'end' ? null : pixels);
    }
  }

  /** Track events of one frame (or of the end of a source), in order. */
  events(camera: string, events: readonly TrackEvent[]): void {
    // Crops are cut only for pages that are open, from the frame that produced the event.
    const crop = this.#o.snapshots && this.#streams.size > 0;
    const earlier = this.#awaitingCrop.get(camera);
    if (earlier) {
      // No frame came between two batches (a pause, a stop): the earlier ones go out without a crop.
      this.#awaitingCrop.delete(camera);
      for (const e of earlier) this.#handOut(camera, e, null);
    }
    // The whole batch waits for its frame, so the page sees the events in the order they happened.
    if (crop && events.some((e) => e.type !== 'end')) this.#awaitingCrop.set(camera, events);
    else for (const e of events) this.#handOut(camera, e, null);
  }

  /** The capture status of `camera` changed. */
  captureStatus(camera: string, status: SourceStatus): void {
    this.#capture.set(camera, { state: status.state, reason: status.reason ?? null });
  }

  /** A rule acted (the `rules/action` payload). */
  ruleAction(payload: Record<string, unknown>): void {
    this.#ruleActions.unshift(payload);
    this.#ruleActions.length = Math.min(this.#ruleActions.length, RECENT_RULE_ACTIONS);
  }

  /** The board state now. */
  state(): BoardState {
    const now = performance.now();
    const cameras: CameraState[] = this.#o.cameras.map((c) => {
      const base = this.#fpsBase.get(c.name);
      const fps = base && now > base.at ? ((c.frames - base.frames) * 1000) / (now - base.at) : 0;
      return {
        name: c.name,
        fps: Math.round(fps * 10) / 10,
        capture: this.#capture.get(c.name)!,
        dropped: c.slot.stats().dropped,
        frames: c.frames,
        paused: c.paused,
      };
    });
    return {
      ...this.#o.board(),
      cameras,
      rule_actions: [...this.#ruleActions],
      snapshots: this.#o.snapshots,
      time: Date.now(),
    };
  }

  /** The last events, oldest first. */
  recentEvents(): readonly LiveEvent[] {
    return [...this.#recent];
  }

  /** Adds a page: it gets `hello` (board state + recent events) now, then every event and a `board` each tick. */
  attach(stream: SseStream): void {
    this.#streams.add(stream);
    stream.onClose(() => {
      this.#streams.delete(stream);
      if (this.#streams.size === 0) this.#stopTicking();
    });
    stream.send('hello', { board: this.state(), events: this.recentEvents(), cameras: this.cameraNames });
    this.#startTicking();
  }

  /** Ends every page's stream and the tick. Idempotent. */
  close(): void {
    this.#stopTicking();
    for (const stream of [...this.#streams]) stream.close();
  }

  #startTicking(): void {
    if (this.#timer) return;
    this.#resetFps();
    this.#timer = setInterval(() => {
      const board = this.state();
      this.#resetFps();
      for (const stream of this.#streams) {
        stream.send('board', board);
        stream.keepAlive();
      }
    }, this.#o.tickMs ?? 1000);
    this.#timer.unref();
  }

  #stopTicking(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #resetFps(): void {
    const at = performance.now();
    this.#fpsBase = new Map(this.#o.cameras.map((c) => [c.name, { frames: c.frames, at }]));
  }

  /** Adds the crop (when asked and possible), remembers the event and sends it, in order per camera. */
  #handOut(camera: string, event: TrackEvent, pixels: Promise<RgbImage> | null): void {
    const previous = this.#eventChains.get(camera) ?? Promise.resolve();
    const next = previous.then(async () => {
      let crop: string | undefined;
      if (pixels) {
        crop = await pixels
          .then((image) => faceCropDataUrl(image, event.after.box))
          .catch((err: Error) => {
            this.#o.log.debug({ camera, err: err.message }, 'face crop skipped');
            return undefined;
          });
      }
      const live: LiveEvent = {
        type: event.type,
        camera,
        track: event.after,
        time: Date.now(),
        ...(crop ? { crop } : {}),
      };
      this.#recent.push(live);
      if (this.#recent.length > RECENT_EVENTS) this.#recent.shift();
      for (const stream of this.#streams) stream.send('event', live);
    });
    this.#eventChains.set(camera, next);
  }
}
