/**
 * A video file as a source: an ffmpeg child decodes it to raw rgb24 frames at native size on stdout, read
 * at the file's own frame rate (`-re`), at `fps`, or as fast as the consumer takes them (stdout is paused
 * while the consumer is busy, so the pipe applies backpressure to ffmpeg instead of memory growing).
 */
import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { FaceedgeError } from '../errors.js';
import type { FrameSource, SourceStats } from './frame-source.js';
import { ManagedChild } from './managed-child.js';
import { isUnpaced, type PlaybackOptions } from './playback-source.js';
import { assertPixelLimit, DEFAULT_MAX_PIXELS } from './probe-image.js';
import { fileKind, openFailure } from './read-image-file.js';
import { SourceReporter } from './source-reporter.js';

const execFileAsync = promisify(execFile);

/** Options of {@link VideoFileSource}. */
export interface VideoFileSourceOptions extends PlaybackOptions {
  /** Any file ffmpeg can read (mp4, mkv, avi…). */
  readonly path: string;
  /** Largest accepted width × height in pixels. Default 50 MP. */
  readonly maxPixels?: number;
  /** ffmpeg program. Default `ffmpeg` (on PATH). */
  readonly ffmpegPath?: string;
  /** ffprobe program. Default `ffprobe` (on PATH). */
  readonly ffprobePath?: string;
  /** Time between SIGTERM and SIGKILL when stopping ffmpeg, ms. Default 2000. */
  readonly killGraceMs?: number;
}

/** Size of the decoded frames. */
export interface VideoInfo {
  readonly width: number;
  readonly height: number;
}

export class VideoFileSource implements FrameSource {
  readonly name: string;
  readonly #reporter: SourceReporter;
  readonly #controller = new AbortController();
  #child: ManagedChild | null = null;
  #running: Promise<void> | null = null;
  #startPromise: Promise<void> | null = null;
  #videoInfo: VideoInfo | null = null;
  /** Set once ffmpeg reported damaged input: a looping file is reported once, not on every pass. */
  #damageReported = false;
  #damageLines: string[] = [];
  #damageTimer: NodeJS.Timeout | null = null;

  readonly #options: VideoFileSourceOptions;

  constructor(options: VideoFileSourceOptions) {
    this.#options = options;
    this.name = options.name ?? `video:${basename(options.path)}`;
    this.#reporter = new SourceReporter(options.sink, options.clock);
  }

  /** Process id of the ffmpeg child while it runs, for diagnostics. */
  get pid(): number | undefined {
    return this.#child && !this.#child.hasExited ? this.#child.pid : undefined;
  }

  /** Frame size, known after `start()`. */
  get info(): VideoInfo | null {
    return this.#videoInfo;
  }

  /**
   * Probes the file and starts ffmpeg.
   * @throws FaceedgeError `SOURCE_FAILED` (missing file, no video stream, ffmpeg missing) or `IMAGE_TOO_LARGE`.
   */
  start(signal?: AbortSignal): Promise<void> {
    this.#startPromise ??= this.#doStart(signal);
    return this.#startPromise;
  }

  async stop(): Promise<void> {
    this.#controller.abort();
    // A paused stdout (consumer-paced) would hold the pipe open and the exit would never be seen.
    this.#child?.stdout.resume();
    await this.#child?.kill(this.#options.killGraceMs);
    await this.#running;
    this.#reporter.end('stopped');
  }

  stats(): SourceStats {
    return this.#reporter.stats();
  }

  async #doStart(signal?: AbortSignal): Promise<void> {
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (signal?.aborted || this.#controller.signal.aborted) return;
    const { path } = this.#options;
    // ffmpeg streams the file, so there is no size limit; a FIFO or a device is refused like for images.
    let file: Stats;
    try {
      file = await stat(path);
    } catch (cause) {
      throw new FaceedgeError('SOURCE_FAILED', `cannot read video ${path}: ${openFailure(path, cause)}`, {
        hint: 'Check the source path in the configuration.',
        cause,
      });
    }
    if (!file.isFile())
      throw new FaceedgeError('SOURCE_FAILED', `cannot read video ${path}: it is ${fileKind(file)}`, {
        hint: 'A video source reads a file; a stream needs a camera source (mjpeg_process, v4l2, rtsp).',
      });
    const info = await this.#probe();
    assertPixelLimit(info.width, info.height, this.#options.maxPixels ?? DEFAULT_MAX_PIXELS, path);
    this.#videoInfo = info;
    let child: ManagedChild;
    try {
      child = await ManagedChild.spawn(this.#options.ffmpegPath ?? 'ffmpeg', this.#ffmpegArgs(), {
        onStderrLine: (line) => this.#onFfmpegError(line),
      });
    } catch (cause) {
      throw new FaceedgeError('SOURCE_FAILED', `cannot start ffmpeg: ${(cause as Error).message}`, {
        hint: 'Install ffmpeg (apt install ffmpeg).',
        cause,
      });
    }
    this.#child = child;
    this.#reporter.started();
    this.#reporter.status('online', `playing ${path}`);
    this.#running = this.#pump(child, info);
    if (this.#controller.signal.aborted) await child.kill(this.#options.killGraceMs);
  }

  /**
   * ffmpeg runs at `-loglevel error`, so any line it writes while playing is damaged input: a file cut
   * short ("partial file": a copy or download that did not finish) or corrupt packets. ffmpeg skips
   * what it cannot decode and carries on, so the source does too, and reports it once as a skipped
   * input, like a truncated GIF. The lines of one burst are read together (a cut first shows as a
   * broken packet, then as "partial file") before saying which it is.
   */
  #onFfmpegError(line: string): void {
    if (this.#damageReported || this.#controller.signal.aborted) return;
    this.#damageLines.push(line);
    this.#damageTimer ??= setTimeout(() => this.#reportDamage(), 250).unref();
  }

  #reportDamage(): void {
    if (this.#damageTimer) clearTimeout(this.#damageTimer);
    this.#damageTimer = null;
    if (this.#damageReported || this.#damageLines.length === 0) return;
    this.#damageReported = true;
    const cut = this.#damageLines.find((l) => /partial file/i.test(l));
    const detail = (cut ?? this.#damageLines[0]!).replace(/^\[[^\]]*\]\s*/, '');
    this.#reporter.skip(
      new FaceedgeError(
        'SOURCE_FAILED',
        `${this.#options.path} ${cut ? 'is truncated' : 'has damaged data'} (ffmpeg: "${detail}"): what ffmpeg can decode plays${this.#options.loop ? ', in a loop' : ''}; reported once`,
        {
          hint: cut ? 'Copy the file again: it ends before its last frame.' : 'Re-encode the file or copy it again.',
        },
      ),
    );
  }

  async #probe(): Promise<VideoInfo> {
    const { path } = this.#options;
    try {
      const { stdout } = await execFileAsync(this.#options.ffprobePath ?? 'ffprobe', [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=width,height',
        '-of',
        'json',
        path,
      ]);
      const stream = (JSON.parse(stdout) as { streams?: { width?: number; height?: number }[] }).streams?.[0];
      if (!stream?.width || !stream.height) throw new Error('no video stream');
      return { width: stream.width, height: stream.height };
    } catch (cause) {
      const detail = ((cause as { stderr?: string }).stderr || (cause as Error).message).trim();
      throw new FaceedgeError('SOURCE_FAILED', `cannot read video ${path}: ${detail}`, {
        hint: 'Check that the file is a video ffmpeg can decode, and that ffprobe is installed.',
        cause,
      });
    }
  }

  #ffmpegArgs(): string[] {
    const { fps, loop, path } = this.#options;
    const unpaced = isUnpaced(this.#options);
    return [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      // Size comes from ffprobe's coded size; autorotation would swap it for rotated phone videos.
      '-noautorotate',
      ...(unpaced ? [] : ['-re']),
      ...(loop ? ['-stream_loop', '-1'] : []),
      '-i',
      path,
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      ...(fps && fps > 0 ? ['-vf', `fps=${fps}`] : []),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ];
  }

  /** Cuts stdout into frames; ends the source when ffmpeg exits. */
  async #pump(child: ManagedChild, info: VideoInfo): Promise<void> {
    const frameBytes = info.width * info.height * 3;
    const unpaced = isUnpaced(this.#options);
    let frame = Buffer.allocUnsafe(frameBytes);
    let filled = 0;
    const stdout = child.stdout;
    stdout.on('data', (chunk: Buffer) => {
      if (this.#controller.signal.aborted) return; // draining after stop()
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        chunk.copy(frame, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled < frameBytes) break;
        const ready = this.#reporter.emit({ kind: 'rgb', data: frame, width: info.width, height: info.height });
        frame = Buffer.allocUnsafe(frameBytes);
        filled = 0;
        if (unpaced && ready && !this.#controller.signal.aborted) {
          // Backpressure: stop reading until the consumer took the frame; ffmpeg blocks on the full pipe.
          // The rest of this chunk is kept by unshifting it back into the stream.
          stdout.pause();
          if (offset < chunk.length) stdout.unshift(chunk.subarray(offset));
          const resume = (): void => void stdout.resume();
          ready.then(resume, resume);
          return;
        }
      }
    });
    const exit = await child.exited;
    this.#reportDamage();
    if (this.#controller.signal.aborted) return;
    if (exit.code === 0) {
      this.#reporter.end(`end of ${this.#options.path}`);
      return;
    }
    const last = child.stderrTail().at(-1);
    const reason = `ffmpeg exited with code ${exit.code ?? exit.signal}${last ? `: ${last}` : ''}`;
    this.#reporter.error(new FaceedgeError('SOURCE_FAILED', `${this.name}: ${reason}`));
    this.#reporter.end(reason);
  }
}
