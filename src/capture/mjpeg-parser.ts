/**
 * Splits an MJPEG byte stream (concatenated JPEGs, as `rpicam-vid --codec mjpeg -o -` and
 * `ffmpeg -f mjpeg -` write them) into single JPEG frames.
 *
 * It walks the JPEG marker structure instead of searching for the next FF D9: marker segments are skipped
 * by their length, so an EXIF thumbnail (a whole JPEG inside APP1) does not end the frame early, and in the
 * entropy-coded data FF 00 and RSTn are recognised, so only a real marker ends a scan. A frame cut off
 * anywhere (even inside a length field or a table) is noticed at the next frame's SOI, which is kept. Chunks may split the
 * stream anywhere. A frame that is broken (bad marker, new SOI before EOI, stream ends inside it, larger
 * than the limit) is skipped and counted, and parsing resumes at the next SOI.
 */

/** Default largest accepted frame: 8 MiB (a 12 MP JPEG at high quality is ~5 MiB). */
export const DEFAULT_MAX_MJPEG_FRAME_BYTES = 8 * 1024 * 1024;

/** Options of {@link MjpegParser}. */
export interface MjpegParserOptions {
  /**
   * Largest frame in bytes. A frame that grows beyond it (a stream without EOI) is dropped, which bounds the
   * parser's memory to about this plus one chunk. Default {@link DEFAULT_MAX_MJPEG_FRAME_BYTES}.
   */
  readonly maxFrameBytes?: number;
  /** Called for every skipped frame with the reason, for logs. */
  readonly onSkip?: (reason: string) => void;
}

/** Counters of an {@link MjpegParser}, monotonic. */
export interface MjpegParserStats {
  /** Complete frames returned. */
  readonly frames: number;
  /** Broken, truncated or oversized frames that were dropped. */
  readonly skipped: number;
  /** Bytes outside any frame (before an SOI), dropped. */
  readonly garbageBytes: number;
}

const enum State {
  /** Looking for FF D8 (start of image). */
  Seek,
  /** At `pos` a marker (FF xx) must follow. */
  Marker,
  /** Inside entropy-coded scan data, looking for the next real marker. */
  Entropy,
}

const SOI = Buffer.from([0xff, 0xd8]);
const INITIAL_CAPACITY = 256 * 1024;

export class MjpegParser {
  readonly #maxFrameBytes: number;
  /** Pending bytes; while in a frame, the frame starts at offset 0. */
  #buf = Buffer.alloc(INITIAL_CAPACITY);
  #len = 0;
  /** Next offset to examine. */
  #pos = 0;
  #state = State.Seek;
  /** A scan (SOS) was seen in the current frame: an EOI without one is not an image. */
  #sawScan = false;
  #frames = 0;
  #skipped = 0;
  #garbageBytes = 0;

  readonly #options: MjpegParserOptions;

  constructor(options: MjpegParserOptions = {}) {
    this.#options = options;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_MJPEG_FRAME_BYTES;
  }

  /** Feeds the next chunk; returns the frames it completed, each a fresh Buffer holding SOI … EOI. */
  push(chunk: Buffer): Buffer[] {
    this.#append(chunk);
    const out: Buffer[] = [];
    this.#parse(out);
    if (this.#state !== State.Seek && this.#len > this.#maxFrameBytes) {
      this.#skip(`frame larger than ${this.#maxFrameBytes} bytes without EOI`, this.#len);
    }
    return out;
  }

  /** The stream is over: a frame still in progress is truncated and counted as skipped. Resets the parser. */
  end(): void {
    if (this.#state !== State.Seek) this.#skip('stream ended inside a frame', this.#len);
    this.#garbageBytes += this.#len;
    this.#len = 0;
    this.#pos = 0;
    this.#state = State.Seek;
  }

  /** Bytes held while waiting for the rest of a frame; at most about `maxFrameBytes` plus one chunk. */
  get pendingBytes(): number {
    return this.#len;
  }

  stats(): MjpegParserStats {
    return { frames: this.#frames, skipped: this.#skipped, garbageBytes: this.#garbageBytes };
  }

  #parse(out: Buffer[]): void {
    const buf = this.#buf;
    for (;;) {
      const len = this.#len;
      if (this.#state === State.Seek) {
        const at = buf.subarray(0, len).indexOf(SOI, this.#pos);
        if (at < 0) {
          // Keep a trailing FF: it may be the first half of an SOI split across chunks.
          const keep = len > 0 && buf[len - 1] === 0xff ? 1 : 0;
          this.#garbageBytes += len - keep;
          this.#drop(len - keep);
          this.#pos = 0;
          return;
        }
        this.#garbageBytes += at;
        this.#drop(at);
        this.#pos = 2;
        this.#sawScan = false;
        this.#state = State.Marker;
        continue;
      }

      if (this.#state === State.Entropy) {
        if (this.#pos >= len) return;
        const at = buf.subarray(0, len).indexOf(0xff, this.#pos);
        if (at < 0 || at + 1 >= len) {
          this.#pos = at < 0 ? len : at;
          return;
        }
        const next = buf[at + 1];
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7))
          this.#pos = at + 2; // stuffed FF or RSTn
        else if (next === 0xff)
          this.#pos = at + 1; // fill byte
        else {
          this.#pos = at;
          this.#state = State.Marker;
        }
        continue;
      }

      // State.Marker
      const pos = this.#pos;
      if (pos + 1 >= len) return;
      if (buf[pos] !== 0xff) {
        this.#resync(`expected a marker at byte ${pos}, found 0x${buf[pos].toString(16)}`);
        continue;
      }
      const marker = buf[pos + 1];
      if (marker === 0xff) {
        this.#pos = pos + 1; // fill bytes may precede a marker
      } else if (marker === 0xd8) {
        // A new image starts before this one ended: this one is truncated; the new one is kept.
        this.#skipped++;
        this.#options.onSkip?.('frame truncated (new SOI before EOI)');
        this.#drop(pos);
        this.#pos = 2;
        this.#sawScan = false;
      } else if (marker === 0xd9) {
        const end = pos + 2;
        if (this.#sawScan) {
          out.push(Buffer.from(buf.subarray(0, end)));
          this.#frames++;
        } else {
          this.#skipped++;
          this.#options.onSkip?.('EOI before any scan data');
        }
        this.#drop(end);
        this.#state = State.Seek;
      } else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        this.#pos = pos + 2; // markers without a length
      } else if (marker === 0x00) {
        this.#resync('invalid marker FF 00 outside scan data');
      } else {
        if (pos + 3 >= len) return;
        const length = buf.readUInt16BE(pos + 2);
        if (length < 2) {
          this.#resync(`marker 0x${marker.toString(16)} with invalid length ${length}`);
          continue;
        }
        const segmentEnd = pos + 2 + length;
        // Tables, frame and scan headers never contain FF D8 (only APPn/COM may carry an embedded JPEG),
        // so an SOI inside one means this frame was cut off there and the next one began: without this
        // check the bogus length would swallow the start of the next, good frame.
        const mayEmbedJpeg = (marker >= 0xe0 && marker <= 0xef) || marker === 0xfe;
        if (!mayEmbedJpeg) {
          // From the length field (a cut there makes the next SOI read as the length) to one byte past the
          // end (an SOI can straddle it).
          const soi = buf.subarray(pos + 2, Math.min(segmentEnd + 1, len)).indexOf(SOI);
          if (soi < 0 && segmentEnd >= len) return; // these segments are small: wait for all of it
          if (soi >= 0) {
            this.#skipped++;
            this.#options.onSkip?.('frame truncated (new SOI inside a header segment)');
            this.#drop(pos + 2 + soi);
            this.#pos = 2;
            this.#sawScan = false;
            continue;
          }
        }
        this.#pos = segmentEnd;
        if (marker === 0xda) {
          this.#sawScan = true;
          this.#state = State.Entropy;
        }
        // The segment may extend past the data so far; Marker waits until the byte after it arrives.
      }
    }
  }

  /** Drops the broken frame's SOI and looks for the next SOI after it. */
  #resync(reason: string): void {
    this.#skipped++;
    this.#options.onSkip?.(reason);
    this.#drop(2);
    this.#pos = 0;
    this.#state = State.Seek;
  }

  /** Drops the whole pending frame (it is too large), counting it as skipped. */
  #skip(reason: string, bytes: number): void {
    this.#skipped++;
    this.#options.onSkip?.(reason);
    this.#drop(bytes);
    this.#pos = 0;
    this.#state = State.Seek;
  }

  /** Removes the first `n` pending bytes. */
  #drop(n: number): void {
    if (n <= 0) return;
    this.#buf.copyWithin(0, n, this.#len);
    this.#len -= n;
    this.#pos = Math.max(0, this.#pos - n);
  }

  #append(chunk: Buffer): void {
    const needed = this.#len + chunk.length;
    if (needed > this.#buf.length) {
      const grown = Buffer.alloc(Math.max(needed, this.#buf.length * 2));
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    chunk.copy(this.#buf, this.#len);
    this.#len = needed;
  }
}
