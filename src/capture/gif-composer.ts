/**
 * Turns an animated GIF into full RGB frames. A GIF frame is only a patch (a rectangle, possibly with
 * transparent pixels) drawn over what the previous frames left according to their disposal method, so
 * decoding frames independently gives torn images; this composes them on a canvas the way browsers do.
 */
import { decompressFrame, parseGIF, type ParsedGif } from 'gifuct-js';
import { FaceedgeError } from '../errors.js';
import type { RgbImage } from './frame.js';
import { summarizeGifBlocks } from './gif-blocks.js';
import { assertPixelLimit, DEFAULT_MAX_PIXELS } from './probe-image.js';

/** One composed frame. */
export interface GifFrame {
  readonly image: RgbImage;
  /** How long the frame is shown, ms (delays of 0 or 10 ms play as 100 ms, like browsers do). */
  readonly delayMs: number;
}

/** Options of {@link GifComposer.fromBuffer}. */
export interface GifComposerOptions {
  /** Largest accepted width × height of the canvas or of any frame patch. Default 50 MP. */
  readonly maxPixels?: number;
  /** Name for error messages. Default `gif`. */
  readonly origin?: string;
  /**
   * Colour, `[r, g, b]`, of pixels no frame has painted and of areas cleared by disposal 2
   * ("restore to background", which browsers render transparent). Default black.
   */
  readonly background?: readonly [number, number, number];
}

type ImageBlock = Extract<ParsedGif['frames'][number], { image: unknown }>;

/** Disposal methods of the Graphic Control Extension. */
const DISPOSE_BACKGROUND = 2;
const DISPOSE_PREVIOUS = 3;

export class GifComposer {
  readonly #gif: ParsedGif;
  readonly #blocks: ImageBlock[];
  readonly #background: readonly [number, number, number];
  readonly #origin: string;

  private constructor(
    gif: ParsedGif,
    blocks: ImageBlock[],
    readonly width: number,
    readonly height: number,
    background: readonly [number, number, number],
    origin: string,
    /** Set when the file ends inside a frame's pixel data (a cut download or copy); that frame was dropped. */
    readonly truncation: string | null,
  ) {
    this.#gif = gif;
    this.#blocks = blocks;
    this.#background = background;
    this.#origin = origin;
  }

  /**
   * Parses a GIF file's structure (no pixel decoding yet).
   * @throws FaceedgeError `IMAGE_TOO_LARGE` (checked on the header, before parsing) or `IMAGE_UNREADABLE`.
   */
  static fromBuffer(data: Buffer, options: GifComposerOptions = {}): GifComposer {
    const origin = options.origin ?? 'gif';
    const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    const signature = data.subarray(0, 6).toString('latin1');
    if (data.length < 13 || (signature !== 'GIF87a' && signature !== 'GIF89a')) {
      throw new FaceedgeError('IMAGE_UNREADABLE', `${origin} is not a GIF file`);
    }
    // Logical screen size sits right after the signature (little-endian u16s): check before any parsing.
    const width = data.readUInt16LE(6);
    const height = data.readUInt16LE(8);
    assertPixelLimit(width, height, maxPixels, origin);
    let gif: ParsedGif;
    try {
      gif = parseGIF(data.buffer.slice(data.byteOffset, data.byteOffset + data.length) as ArrayBuffer);
    } catch (cause) {
      throw new FaceedgeError('IMAGE_UNREADABLE', `cannot parse GIF ${origin}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const blocks = gif.frames.filter((f): f is ImageBlock => 'image' in f && f.image !== undefined);
    for (const block of blocks) {
      // gifuct allocates descriptor width × height entries per frame: refuse absurd patches up front.
      const d = block.image.descriptor;
      assertPixelLimit(d.width, d.height, maxPixels, `${origin} frame patch`);
    }
    // A file cut short parses without complaint and its cut frame decodes padded with colour 0: playing it
    // would show a torn image, so it is dropped and the cut reported.
    let truncation: string | null = null;
    const structure = summarizeGifBlocks(data);
    if (structure.cutInsideImage) {
      blocks.length = Math.min(blocks.length, structure.wholeImages);
      truncation = `GIF ${origin} is truncated: the file ends inside frame ${blocks.length + 1}; the ${blocks.length} frame(s) before it play`;
    }
    if (width === 0 || height === 0 || blocks.length === 0) {
      throw new FaceedgeError('IMAGE_UNREADABLE', `GIF ${origin} has no ${truncation ? 'whole ' : ''}frame`);
    }
    return new GifComposer(gif, blocks, width, height, options.background ?? [0, 0, 0], origin, truncation);
  }

  /** Number of image frames. */
  get frameCount(): number {
    return this.#blocks.length;
  }

  /**
   * Composes the frames in order, each into a new buffer. Every call starts again from a blank canvas,
   * so looping replays the animation exactly. Frames are decoded lazily, one at a time.
   */
  *frames(): Generator<GifFrame> {
    const { width, height } = this;
    const canvas = Buffer.alloc(width * height * 3);
    fillRect(canvas, width, { left: 0, top: 0, width, height }, this.#background);
    let previous: { rect: Rect; disposal: number; saved: Buffer | null } | null = null;

    for (let i = 0; i < this.#blocks.length; i++) {
      let frame;
      try {
        frame = decompressFrame(this.#blocks[i] as never, this.#gif.gct, false);
      } catch (cause) {
        throw new FaceedgeError('IMAGE_UNREADABLE', `GIF ${this.#origin} frame ${i} is corrupt`, { cause });
      }
      if (previous?.disposal === DISPOSE_BACKGROUND) fillRect(canvas, width, previous.rect, this.#background);
      else if (previous?.disposal === DISPOSE_PREVIOUS && previous.saved) {
        putRect(canvas, width, previous.rect, previous.saved);
      }

      const rect = clip(frame.dims, width, height);
      const saved = frame.disposalType === DISPOSE_PREVIOUS ? getRect(canvas, width, rect) : null;
      drawPatch(canvas, width, rect, frame);
      previous = { rect, disposal: frame.disposalType, saved };

      // gifuct turns a missing/zero delay into 100 ms; browsers also play 10 ms (1 cs) as 100 ms.
      const delayMs = !frame.delay || frame.delay <= 10 ? 100 : frame.delay;
      yield { image: { kind: 'rgb', data: Buffer.from(canvas), width, height }, delayMs };
    }
  }
}

interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** The part of a frame's rectangle that lies on the canvas (malformed GIFs place patches outside it). */
function clip(dims: Rect, canvasWidth: number, canvasHeight: number): Rect {
  const left = Math.min(Math.max(dims.left, 0), canvasWidth);
  const top = Math.min(Math.max(dims.top, 0), canvasHeight);
  const right = Math.min(dims.left + dims.width, canvasWidth);
  const bottom = Math.min(dims.top + dims.height, canvasHeight);
  return { left, top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) };
}

function drawPatch(
  canvas: Buffer,
  canvasWidth: number,
  rect: Rect,
  frame: { dims: Rect; pixels: number[]; colorTable: [number, number, number][]; transparentIndex?: number },
): void {
  const { pixels, colorTable, transparentIndex, dims } = frame;
  for (let y = 0; y < rect.height; y++) {
    const srcRow = (rect.top - dims.top + y) * dims.width + (rect.left - dims.left);
    let dst = ((rect.top + y) * canvasWidth + rect.left) * 3;
    for (let x = 0; x < rect.width; x++, dst += 3) {
      const index = pixels[srcRow + x];
      // Transparent pixels keep what is underneath; a short patch array (malformed file) paints nothing.
      if (index === undefined || index === transparentIndex) continue;
      const colour = colorTable[index];
      if (!colour) continue;
      canvas[dst] = colour[0];
      canvas[dst + 1] = colour[1];
      canvas[dst + 2] = colour[2];
    }
  }
}

function fillRect(canvas: Buffer, canvasWidth: number, rect: Rect, rgb: readonly [number, number, number]): void {
  for (let y = 0; y < rect.height; y++) {
    let dst = ((rect.top + y) * canvasWidth + rect.left) * 3;
    for (let x = 0; x < rect.width; x++, dst += 3) {
      canvas[dst] = rgb[0];
      canvas[dst + 1] = rgb[1];
      canvas[dst + 2] = rgb[2];
    }
  }
}

function getRect(canvas: Buffer, canvasWidth: number, rect: Rect): Buffer {
  const out = Buffer.alloc(rect.width * rect.height * 3);
  for (let y = 0; y < rect.height; y++) {
    const start = ((rect.top + y) * canvasWidth + rect.left) * 3;
    canvas.copy(out, y * rect.width * 3, start, start + rect.width * 3);
  }
  return out;
}

function putRect(canvas: Buffer, canvasWidth: number, rect: Rect, saved: Buffer): void {
  for (let y = 0; y < rect.height; y++) {
    const start = ((rect.top + y) * canvasWidth + rect.left) * 3;
    saved.copy(canvas, start, y * rect.width * 3, (y + 1) * rect.width * 3);
  }
}
