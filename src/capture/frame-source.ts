/**
 * The one interface every frame source implements (files, GIFs, videos, cameras), and the sink it
 * pushes into. Sources are push-based because cameras are: a live camera produces frames whether or not
 * anyone is ready for them. The consumer side (usually a {@link LatestFrameSlot}) decides what to drop.
 */
import type { FaceedgeError } from '../errors.js';
import type { Frame } from './frame.js';

/** `online` while frames are expected to flow; `offline` before the first frame, after a failure or at the end. */
export type SourceState = 'online' | 'offline';

/** A status change of a source. */
export interface SourceStatus {
  readonly state: SourceState;
  /** Why the state changed, for logs and the retained MQTT status (`"process exited with code 1: …"`). */
  readonly reason: string;
  /** Wall-clock time of the change, ms since the Unix epoch. */
  readonly wallTimeMs: number;
}

/** Where a source delivers frames, status changes, recoverable errors and its end. */
export interface FrameSink {
  /**
   * One new frame. The sink may return a promise that settles when it is ready for another frame;
   * unpaced sources (`fps: 0` / `realtime: false`) await it so they run exactly as fast as the consumer,
   * paced sources and live cameras never wait (the sink drops instead).
   */
  frame(frame: Frame): void | Promise<void>;
  /** The source will produce no more frames (file finished, or `stop()`). Called at most once. */
  end?(): void;
  /** The source went online or offline. */
  status?(status: SourceStatus): void;
  /**
   * A recoverable problem: an unreadable file that was skipped, a corrupt MJPEG frame, a camera process
   * that died and will be restarted. The source keeps going; this is for logs and counters.
   */
  error?(error: FaceedgeError): void;
}

/** Counters every source keeps (monotonic for the life of the source object). */
export interface SourceStats {
  /** Frames handed to the sink. */
  readonly framesOut: number;
  /** Inputs that could not be turned into a frame and were skipped (unreadable file, corrupt JPEG…). */
  readonly skipped: number;
  /** Times a child process was (re)started; 0 for sources without one. */
  readonly starts: number;
}

/**
 * A producer of frames. `start()` resolves once the source is running (a first file was readable, a child
 * process was spawned) and rejects with a {@link FaceedgeError} when it cannot start at all (missing file,
 * missing camera program). `stop()` is idempotent, releases every resource (timers, child processes) and
 * calls `sink.end()` if the source had not ended already.
 */
export interface FrameSource {
  /** Human-readable name for logs and status topics (e.g. `gif:walking.gif`, `rpicam`). */
  readonly name: string;
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  stats(): SourceStats;
}

/** Options every source accepts. */
export interface CommonSourceOptions {
  /** Where frames go. */
  readonly sink: FrameSink;
  /** Overrides the default name. */
  readonly name?: string;
}
