/**
 * A minimal MJPEG (`multipart/x-mixed-replace`) viewer for tests: connects with node:http, splits the
 * stream into parts by their content-length (with each part's tracked faces, its `x-faceedge-tracks`
 * header), and lets a test wait for a number of pictures.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { EventWaiters } from './event-waiters.js';

export interface MjpegPart {
  readonly seq: number;
  readonly jpeg: Buffer;
  /** The part's `x-faceedge-tracks` header, parsed; null when it has none. */
  readonly tracks: unknown[] | null;
  /** When it arrived (performance.now()). */
  readonly at: number;
}

export class MjpegClient {
  readonly parts: MjpegPart[] = [];
  #buffered = Buffer.alloc(0);
  readonly #waiters = new EventWaiters();
  #ended = false;

  readonly #req: ClientRequest;

  private constructor(
    req: ClientRequest,
    readonly response: IncomingMessage,
  ) {
    this.#req = req;
    response.on('data', (chunk: Buffer) => this.#onData(chunk));
    response.on('close', () => {
      this.#ended = true;
      this.#waiters.wake();
    });
  }

  /** Opens `path` on 127.0.0.1:`port`; resolves once the response headers are in. */
  static open(port: number, path: string, headers: Record<string, string> = {}): Promise<MjpegClient> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers }, (res) => resolve(new MjpegClient(req, res)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Resolves once `count` pictures have arrived in total. */
  waitForParts(count: number, timeoutMs = 10_000): Promise<MjpegPart[]> {
    return this.#waiters.until(
      () => (this.parts.length >= count ? this.parts : undefined),
      timeoutMs,
      () => `timed out waiting for ${count} MJPEG parts (have ${this.parts.length})`,
      () => (this.#ended ? `stream ended after ${this.parts.length} parts` : null),
    );
  }

  close(): void {
    this.#req.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffered = Buffer.concat([this.#buffered, chunk]);
    for (;;) {
      const headerEnd = this.#buffered.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.#buffered.subarray(0, headerEnd).toString('latin1');
      const length = Number(/content-length: (\d+)/i.exec(header)?.[1]);
      const seq = Number(/x-frame-seq: (\d+)/i.exec(header)?.[1]);
      const tracks = /^x-faceedge-tracks: (.*)$/im.exec(header)?.[1];
      const start = headerEnd + 4;
      if (!Number.isFinite(length) || this.#buffered.length < start + length + 2) return;
      this.parts.push({
        seq,
        jpeg: Buffer.from(this.#buffered.subarray(start, start + length)),
        tracks: tracks === undefined ? null : (JSON.parse(tracks) as unknown[]),
        at: performance.now(),
      });
      this.#buffered = this.#buffered.subarray(start + length + 2);
      this.#waiters.wake();
    }
  }
}
