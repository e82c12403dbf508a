/**
 * The daemon's event stream: what happens on the board, told by whoever it happens to (a camera's pipeline,
 * the GPIO rules, the serving model, the run-time options) to the parts that subscribed, without either side
 * knowing the other. A frame's walk reads in one direction: capture → pipeline → `trackEvents` here → the
 * MQTT part's publish (and the GPIO rules, the live view, whatever else listens).
 *
 * Emitting is synchronous, to every subscriber in the order they subscribed (the parts' start order), so a
 * frame's events have reached every part before its pipeline takes the next frame. A subscriber that throws
 * is logged and the others still hear the event: a bug in one part must not cost another its events.
 *
 *   bus.on('trackEvents', (camera, events) => …);   // returns the unsubscribe
 *   bus.emit('trackEvents', 'door', events);
 */
import type { Logger } from 'pino';
import type { Frame } from '../capture/frame.js';
import type { SourceStatus } from '../capture/frame-source.js';
import type { RuntimeOptions } from '../config/runtime-options.js';
import type { FaceedgeError } from '../errors.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import { errorLogFields } from '../observability/error-log-fields.js';
import type { TrackEvent } from '../pipeline/track-event.js';
import type { GalleryContents } from '../recognition/gallery-contents.js';

/** A GPIO line's state as the GPIO part reports it; `on` is null for an input not read yet. */
export interface GpioLineChange {
  readonly name: string;
  readonly kind: 'output' | 'input';
  readonly on: boolean | null;
}

/** Every event of the bus, with its arguments. */
export interface DaemonEvents {
  /** Track events of one processed frame (or of a source's end), in order. */
  trackEvents: [camera: string, events: readonly TrackEvent[]];
  /** The camera went from no tracked face to some, or back. */
  facePresence: [camera: string, present: boolean];
  /** The camera's capture went online or offline (a rule's pause included). */
  captureStatus: [camera: string, status: SourceStatus];
  /** The camera's source could not start (missing file or device); the other cameras run. */
  cameraFailed: [camera: string, error: FaceedgeError];
  /** A frame fully processed, its events already emitted. Every frame: a subscriber must return at once. */
  frame: [camera: string, frame: Frame];
  /** A rule acted: the `rules/action` payload. */
  ruleAction: [payload: Record<string, unknown>];
  /** A GPIO line was opened or changed state. */
  gpioLine: [line: GpioLineChange];
  /** Another classifier serves now (model reload, rollback, a new model in the store). */
  modelChanged: [classifier: FaceClassifier];
  /** The model named `name` (`classifiers:`, the first one included) was swapped for `classifier`. */
  classifierChanged: [name: string, classifier: FaceClassifier];
  /** The run-time thresholds changed (bridge `options`). */
  optionsChanged: [options: RuntimeOptions];
  /**
   * The board's gallery of known faces changed (an enrolment, a removal, a pushed gallery): `contents` is the
   * gallery as written. Whoever matches faces against it uses this value from now on.
   */
  galleryChanged: [contents: GalleryContents];
}

type Handler<K extends keyof DaemonEvents> = (...args: DaemonEvents[K]) => void;

export class DaemonBus {
  readonly #log: Logger;
  readonly #handlers = new Map<keyof DaemonEvents, Set<Handler<never>>>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Calls `handler` on every `event` from now on, until the returned function is called. */
  on<K extends keyof DaemonEvents>(event: K, handler: Handler<K>): () => void {
    let handlers = this.#handlers.get(event);
    if (!handlers) this.#handlers.set(event, (handlers = new Set()));
    const stored = handler as Handler<never>;
    handlers.add(stored);
    return () => void handlers.delete(stored);
  }

  /** Tells every subscriber of `event`, in subscription order; returns once all of them have been called. */
  emit<K extends keyof DaemonEvents>(event: K, ...args: DaemonEvents[K]): void {
    const handlers = this.#handlers.get(event);
    if (!handlers) return;
    for (const handler of handlers) {
      try {
        (handler as Handler<K>)(...args);
      } catch (err) {
        this.#log.error(
          { ...errorLogFields(err), event },
          'a subscriber of a daemon event failed; the others still run',
        );
      }
    }
  }
}
