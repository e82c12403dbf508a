/**
 * Walks a GIF's block structure without decoding pixels, to tell how many image frames are stored whole.
 * gifuct-js parses a file cut short without complaint and its LZW decoder pads the missing pixels of the
 * cut frame with colour 0, so the cut can only be seen in the structure: every image's data sub-blocks
 * end with a zero-length block, and the file with the trailer byte.
 */

const EXTENSION = 0x21;
const IMAGE = 0x2c;
const TRAILER = 0x3b;

/** What the walk found. */
export interface GifBlockSummary {
  /** Image frames whose data ends with its terminator inside the file. */
  readonly wholeImages: number;
  /** The file ends inside an image (its descriptor, palette or data): that frame is not whole. */
  readonly cutInsideImage: boolean;
  /** The walk reached the trailer byte (a complete file). */
  readonly trailer: boolean;
}

/** Walks the blocks of `data` (a GIF whose signature was already checked). */
export function summarizeGifBlocks(data: Uint8Array): GifBlockSummary {
  let pos = 13; // signature (6) + logical screen descriptor (7)
  if (data.length < pos) return { wholeImages: 0, cutInsideImage: false, trailer: false };
  pos += colorTableBytes(data[10]);
  let wholeImages = 0;

  /** Skips 0x00-terminated data sub-blocks; false when the file ends first. */
  const skipSubBlocks = (): boolean => {
    while (pos < data.length) {
      const size = data[pos++];
      if (size === 0) return true;
      pos += size;
    }
    return false;
  };

  while (pos < data.length) {
    const introducer = data[pos];
    if (introducer === TRAILER) return { wholeImages, cutInsideImage: false, trailer: true };
    if (introducer === EXTENSION) {
      pos += 2; // introducer + label
      if (!skipSubBlocks()) break;
    } else if (introducer === IMAGE) {
      // Descriptor: introducer, left, top, width, height (u16 each), packed fields.
      const packedAt = pos + 9;
      if (packedAt >= data.length) return { wholeImages, cutInsideImage: true, trailer: false };
      pos += 10 + colorTableBytes(data[packedAt]) + 1; // + local palette + LZW minimum code size
      if (pos > data.length || !skipSubBlocks()) return { wholeImages, cutInsideImage: true, trailer: false };
      wholeImages++;
    } else {
      break; // an unknown block: decoders stop here too
    }
  }
  return { wholeImages, cutInsideImage: false, trailer: false };
}

/** Bytes of the colour table announced by a descriptor's packed fields (bit 7: present; bits 0-2: size). */
function colorTableBytes(packed: number): number {
  return packed & 0x80 ? 3 * 2 ** ((packed & 0x07) + 1) : 0;
}
