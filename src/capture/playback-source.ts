/**
 * Shared engine of the sources that play a finite sequence of images (one still, a folder, a GIF): pacing,
 * looping, ending and the start/stop lifecycle. Subclasses only say how to open the input and which
 * images it yields.
 */
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { settledOrAborted } from './abortable-wait.js';
import type { EncodedImage, RgbImage } from './frame.js';
import type { CommonSourceOptions, FrameSource, SourceStats } from './frame-source.js';
import { FramePacer } from './frame-pacer.js';
import { SourceReporter, type SourceClock } from './source-reporter.js';

/** One image of a sequence and how long it is shown at natural speed. */
export interface TimedImage {
  readonly image: RgbImage | EncodedImage;
  /** Display time in ms at natural speed (a GIF frame's delay, `1000 / fps` for stills). */
  readonly delayMs: number;
}

/** Pacing and looping options shared by playback sources. */
export interface PlaybackOptions extends CommonSourceOptions {
  /** Start over at the end instead of ending (the demo loops). Default false. */
  readonly loop?: boolean;
  /**
   * Frames per second. Unset: the input's natural speed (a GIF's own frame delays; 1 fps for stills).
   * `0`: as fast as the consumer takes them (the sink's readiness promise is awaited; used by the benchmark).
   */
  readonly fps?: number;
  /** `false` is the same as `fps: 0`. Default true. */
  readonly realtime?: boolean;
  /** Clocks for frame timestamps and pacing; default the system clocks. */
  readonly clock?: SourceClock;
}

/** True when the options ask for consumer-paced playback. */
export function isUnpaced(options: { fps?: number; realtime?: boolean }): boolean {
  return options.fps === 0 || options.realtime === false;
}

export abstract class PlaybackSource implements FrameSource {
  abstract readonly name: string;
  protected readonly reporter: SourceReporter;
  readonly #controller = new AbortController();
  #startPromise: Promise<void> | null = null;
  #running: Promise<void> | null = null;

  readonly #playback: PlaybackOptions;

  constructor(playback: PlaybackOptions) {
    this.#playback = playback;
    this.reporter = new SourceReporter(playback.sink, playback.clock);
  }

  /** Opens and checks the input; throws a FaceedgeError when the source cannot start at all. */
  protected abstract open(): Promise<void>;

  /** The images of one pass through the input, in order. Errors on single items are reported and skipped here. */
  protected abstract pass(signal: AbortSignal): AsyncIterable<TimedImage>;

  start(signal?: AbortSignal): Promise<void> {
    this.#startPromise ??= this.#doStart(signal);
    return this.#startPromise;
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#running;
    this.reporter.end('stopped');
  }

  stats(): SourceStats {
    return this.reporter.stats();
  }

  /** Counts an input that was skipped (unreadable file…) and, unless `report` is false, reports why. */
  protected skip(error: FaceedgeError, options: { readonly report?: boolean } = {}): void {
    this.reporter.skip(error, options);
  }

  async #doStart(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted || this.#controller.signal.aborted) {
      this.reporter.end('stopped');
      return;
    }
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    await this.open();
    this.reporter.started();
    this.reporter.status('online', `playing ${this.name}`);
    this.#running = this.#play(this.#controller.signal);
  }

  async #play(signal: AbortSignal): Promise<void> {
    const unpaced = isUnpaced(this.#playback);
    const fps = this.#playback.fps;
    const pacer = new FramePacer(this.#playback.clock?.now);
    let reason = 'ended';
    try {
      for (;;) {
        let produced = 0;
        for await (const { image, delayMs } of this.pass(signal)) {
          if (signal.aborted) break;
          produced++;
          const ready = this.reporter.emit(image);
          const keepGoing = unpaced
            ? await settledOrAborted(ready, signal)
            : await pacer.wait(fps && fps > 0 ? 1000 / fps : delayMs, signal);
          if (!keepGoing) break;
        }
        if (signal.aborted) {
          reason = 'stopped';
          break;
        }
        if (!this.#playback.loop) break;
        // A pass with no usable image would otherwise spin forever on a loop.
        if (produced === 0) {
          reason = 'no readable image to loop over';
          break;
        }
      }
    } catch (err) {
      reason = `failed: ${(err as Error).message}`;
      this.reporter.error(
        isFaceedgeError(err) ? err : new FaceedgeError('SOURCE_FAILED', `${this.name}: ${reason}`, { cause: err }),
      );
    }
    this.reporter.end(reason);
  }
}
