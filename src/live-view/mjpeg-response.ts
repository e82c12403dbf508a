/**
 * One viewer of an MJPEG stream (`multipart/x-mixed-replace`): writes shared overlay pictures to its
 * HTTP response without ever queueing more than one. While the connection has not taken the last
 * picture (Node's write buffer past its high-water mark, i.e. the viewer reads slower than we
 * produce), newer pictures replace each other in a single pending slot and the replaced ones are
 * counted as dropped. Memory per viewer is therefore bounded by about two pictures, whatever its speed.
 */
import type { ServerResponse } from 'node:http';
import type { OverlayPicture } from './overlay-feed.js';

/** Part boundary of the multipart stream. */
export const MJPEG_BOUNDARY = 'faceedge-frame';

/**
 * Header of each part (and of `frame.jpg`) with the faces tracked in that picture, as JSON: a list of
 * {@link LiveTrack}. The page draws them over the picture; an MJPEG viewer that does not know it ignores it.
 */
export const TRACKS_HEADER = 'x-faceedge-tracks';

export class MjpegResponse {
  readonly #res: ServerResponse;
  #pending: OverlayPicture | null = null;
  #waitingForDrain = false;
  #sent = 0;
  #dropped = 0;

  /** Sends the stream's headers. */
  constructor(res: ServerResponse) {
    this.#res = res;
    res.writeHead(200, {
      'content-type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
      'cache-control': 'no-store',
      connection: 'close',
    });
    // Headers now, not with the first picture: a paused camera may not send one for a long time.
    res.flushHeaders();
    res.on('drain', () => this.#onDrain());
  }

  /** Pictures written to the connection. */
  get sent(): number {
    return this.#sent;
  }

  /** Pictures never written because a newer one replaced them while the viewer was behind. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes written but not yet handed to the kernel (bounded: about one picture). */
  get bufferedBytes(): number {
    return this.#res.writableLength;
  }

  /** Offers a picture: written now when the viewer has taken the last one, else kept as the pending one. */
  push(picture: OverlayPicture): void {
    if (this.#res.destroyed || this.#res.writableEnded) return;
    if (this.#waitingForDrain) {
      if (this.#pending) this.#dropped++;
      this.#pending = picture;
      return;
    }
    this.#write(picture);
  }

  #write(picture: OverlayPicture): void {
    const res = this.#res;
    res.cork();
    res.write(
      `--${MJPEG_BOUNDARY}\r\ncontent-type: image/jpeg\r\ncontent-length: ${picture.jpeg.length}\r\n` +
        `x-frame-seq: ${picture.seq}\r\n${TRACKS_HEADER}: ${picture.tracksJson}\r\n\r\n`,
    );
    // The shared buffer itself, not a copy: every viewer writes the same bytes.
    res.write(picture.jpeg);
    res.write('\r\n');
    res.uncork();
    this.#sent++;
    this.#waitingForDrain = res.writableNeedDrain;
  }

  #onDrain(): void {
    this.#waitingForDrain = false;
    const next = this.#pending;
    this.#pending = null;
    if (next) this.#write(next);
  }
}
