/**
 * Server-Sent Events to the live-view page: one long response per page carrying named events
 * (`board`, `event`, `hello`). A page that does not keep up is disconnected once more than
 * `maxBufferedBytes` wait in its write buffer (its EventSource reconnects and starts from a fresh
 * `hello`), so a stalled browser never makes the daemon buffer without bound.
 */
import type { ServerResponse } from 'node:http';

/** Default write-buffer limit of one page, bytes. */
export const SSE_MAX_BUFFERED_BYTES = 1 << 20;

export class SseStream {
  readonly #res: ServerResponse;
  readonly #maxBufferedBytes: number;
  #closed = false;
  #onClose: (() => void)[] = [];

  constructor(res: ServerResponse, options: { maxBufferedBytes?: number } = {}) {
    this.#res = res;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? SSE_MAX_BUFFERED_BYTES;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    // Ask EventSource to reconnect after 2 s when the connection drops (daemon restart, slow page cut off).
    res.write('retry: 2000\n\n');
    res.on('close', () => this.#markClosed());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `listener` once when the stream closes, whichever side closed it. */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#onClose.push(listener);
  }

  /** Sends one event with a JSON body; a page past its buffer limit is cut off instead. */
  send(event: string, data: unknown): void {
    if (this.#closed) return;
    if (this.#res.writableLength > this.#maxBufferedBytes) {
      this.close();
      return;
    }
    this.#res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** A comment line: keeps proxies and NAT tables from closing an idle stream. */
  keepAlive(): void {
    if (!this.#closed) this.#res.write(': keep-alive\n\n');
  }

  close(): void {
    if (this.#closed) return;
    this.#res.destroy();
    this.#markClosed();
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.#onClose.splice(0)) listener();
  }
}
