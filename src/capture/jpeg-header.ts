/**
 * Reads a JPEG's size and EXIF orientation straight from its markers, in microseconds. A camera sends
 * 15–30 JPEGs a second and most of them are never decoded (motion gating) or decoded at a reduced scale:
 * asking libvips for their header costs ≈ 0.35 ms each, which was a tenth of an unpaced 480×270 frame.
 * Anything this parser does not understand returns null, and the caller asks libvips (probe-image.ts),
 * so an odd file gets libvips' verdict and message, never a guess.
 */

/** What the markers say: stored size (before EXIF rotation) and orientation (absent = 1). */
export interface JpegHeader {
  readonly width: number;
  readonly height: number;
  readonly orientation?: number;
}

/** Start-of-frame markers carry the size: C0–CF except DHT (C4), JPG (C8) and DAC (CC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** True when `data` starts like a JPEG (SOI marker). */
export function looksLikeJpeg(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
}

/** The header of a JPEG buffer, or null when it is not a JPEG this parser can read to its frame header. */
export function parseJpegHeader(data: Buffer): JpegHeader | null {
  if (!looksLikeJpeg(data)) return null;
  let orientation: number | undefined;
  let at = 2;
  while (at + 4 <= data.length) {
    if (data[at] !== 0xff) return null;
    const marker = data[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image, or scan data before any frame header
    const length = data.readUInt16BE(at + 2);
    if (length < 2 || at + 2 + length > data.length) return null;
    const body = at + 4;
    if (marker === 0xe1 && orientation === undefined) orientation = exifOrientation(data, body, at + 2 + length);
    if (isStartOfFrame(marker)) {
      if (length < 7) return null;
      const height = data.readUInt16BE(body + 1);
      const width = data.readUInt16BE(body + 3);
      if (width === 0 || height === 0) return null; // height 0 = defined later by DNL: leave it to libvips
      return orientation === undefined ? { width, height } : { width, height, orientation };
    }
    at += 2 + length;
  }
  return null;
}

/** The end-of-image marker. */
const END_OF_IMAGE = Buffer.from([0xff, 0xd9]);

/**
 * True when a JPEG is cut short: it has a scan (SOS) but no end-of-image marker (FF D9) after it. Entropy-
 * coded data never holds FF D9 (an FF there is followed by 00 or a restart marker), so the last FF D9 of
 * the buffer, searched from the end where it normally sits, is the end of the image. This settles
 * truncation from the bytes alone: libvips says "premature end of JPEG image" too, but its message sits
 * in one error buffer shared by every decode in flight, and with several cameras decoding at once it
 * sometimes arrives empty ("Unknown error": 29 of 200 tries with three decodes beside the cut one).
 * False for anything this parser cannot walk to a scan; libvips judges those.
 */
export function jpegIsTruncated(data: Buffer): boolean {
  if (!looksLikeJpeg(data)) return false;
  let at = 2;
  while (at + 2 <= data.length) {
    if (data[at] !== 0xff) return false;
    const marker = data[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    if (marker === 0xd9) return false; // an image without a scan: not cut, just empty (libvips says so)
    if (at + 4 > data.length) return true;
    const segmentEnd = at + 2 + data.readUInt16BE(at + 2);
    if (marker === 0xda) return data.lastIndexOf(END_OF_IMAGE) < segmentEnd;
    if (segmentEnd > data.length) return true; // a header segment cut off
    at = segmentEnd;
  }
  return true; // the data stops between header segments, before any scan
}

/**
 * The Orientation tag (0x0112) of IFD0 in an APP1 segment spanning [start, end), if it is EXIF and has
 * one with a valid value (1–8); undefined otherwise. libvips reports the same tag.
 */
function exifOrientation(data: Buffer, start: number, end: number): number | undefined {
  // "Exif\0\0", then a TIFF header: byte order, 42, offset of IFD0 (from the TIFF header).
  if (end - start < 14 || data.toString('latin1', start, start + 6) !== 'Exif\0\0') return undefined;
  const tiff = start + 6;
  const order = data.toString('latin1', tiff, tiff + 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  const u16 = (o: number) => (le ? data.readUInt16LE(o) : data.readUInt16BE(o));
  const u32 = (o: number) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  if (u16(tiff + 2) !== 42) return undefined;
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return undefined;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return undefined;
    if (u16(entry) !== 0x0112) continue;
    const type = u16(entry + 2);
    // SHORT (3) as stored by everyone; LONG (4) tolerated. The value sits in the entry itself.
    const value = type === 3 ? u16(entry + 8) : type === 4 ? u32(entry + 8) : 0;
    return value >= 1 && value <= 8 ? value : undefined;
  }
  return undefined;
}
