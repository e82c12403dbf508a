/**
 * Test helpers for the capture sources: a sink that records everything a source reports and lets a test
 * wait for a condition, and small real JPEGs made with sharp.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { FaceedgeError } from '../../src/errors.js';
import type { Frame } from '../../src/capture/frame.js';
import type { FrameSink, SourceStatus } from '../../src/capture/frame-source.js';

/** `test/fixtures/scenes`. */
export const SCENES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'scenes');

/** A sink recording frames, statuses, errors and the end. */
export class RecordingSink implements FrameSink {
  readonly frames: Frame[] = [];
  readonly statuses: SourceStatus[] = [];
  readonly errors: FaceedgeError[] = [];
  endCount = 0;
  readonly #listeners = new Set<() => void>();

  /** Return value of `frame()`, e.g. a promise to make an unpaced source wait. */
  onFrame: (frame: Frame) => void | Promise<void> = () => {};

  frame(frame: Frame): void | Promise<void> {
    this.frames.push(frame);
    this.#changed();
    return this.onFrame(frame);
  }

  end(): void {
    this.endCount++;
    this.#changed();
  }

  status(status: SourceStatus): void {
    this.statuses.push(status);
    this.#changed();
  }

  error(error: FaceedgeError): void {
    this.errors.push(error);
    this.#changed();
  }

  /** `online`/`offline` sequence so far. */
  get states(): string[] {
    return this.statuses.map((s) => s.state);
  }

  /** Resolves when `predicate` holds (checked after every event), rejects after `timeoutMs` with `what`. */
  until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; states ${this.states.join('>')}, ` +
              `${this.frames.length} frames, errors: ${this.errors.map((e) => e.message).join(' | ')}`,
          ),
        );
      }, timeoutMs);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
    });
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** Deterministic pseudo-random bytes (xorshift32), so noisy JPEGs are the same on every run. */
export function noiseBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A real JPEG of random noise (lots of FF bytes in the entropy data, hence byte stuffing) over a
 * colour, width × height pixels.
 */
export async function noiseJpeg(width: number, height: number, seed: number): Promise<Buffer> {
  return sharp(noiseBytes(width * height * 3, seed), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}
