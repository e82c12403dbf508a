/**
 * Writes tiny GIFs with chosen disposal methods, patches and transparency, to test GIF composition on
 * cases the sample clips do not contain. Pixels are LZW-coded "uncompressed" (a clear code every two
 * pixels keeps the code size at minCodeSize + 1), which every decoder reads.
 */

export interface TinyGifFrame {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** Palette indexes, row-major, width × height. */
  readonly pixels: readonly number[];
  /** 0–3, see the GIF89a Graphic Control Extension. */
  readonly disposal: number;
  readonly transparentIndex?: number;
  /** Centiseconds. Default 10. */
  readonly delayCs?: number;
}

/** A GIF89a with a 4-colour global palette. */
export function tinyGif(
  width: number,
  height: number,
  palette: readonly [number, number, number][],
  frames: readonly TinyGifFrame[],
): Buffer {
  if (palette.length !== 4) throw new Error('tinyGif takes exactly 4 colours');
  const bytes: number[] = [...Buffer.from('GIF89a', 'latin1')];
  const u16 = (v: number): number[] => [v & 0xff, v >> 8];
  bytes.push(...u16(width), ...u16(height), 0x91, 0, 0); // GCT present, 4 entries; background index 0
  for (const c of palette) bytes.push(...c);
  for (const f of frames) {
    const transparent = f.transparentIndex !== undefined;
    bytes.push(
      0x21,
      0xf9,
      4,
      (f.disposal << 2) | (transparent ? 1 : 0),
      ...u16(f.delayCs ?? 10),
      f.transparentIndex ?? 0,
      0,
    );
    bytes.push(0x2c, ...u16(f.left), ...u16(f.top), ...u16(f.width), ...u16(f.height), 0);
    bytes.push(2, ...subBlocks(lzwUncompressed(f.pixels)), 0);
  }
  bytes.push(0x3b);
  return Buffer.from(bytes);
}

function lzwUncompressed(pixels: readonly number[]): number[] {
  const CLEAR = 4;
  const EOI = 5;
  const codes: number[] = [];
  pixels.forEach((p, i) => {
    if (i % 2 === 0) codes.push(CLEAR);
    codes.push(p);
  });
  codes.push(EOI);
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const code of codes) {
    acc |= code << bits;
    bits += 3;
    while (bits >= 8) {
      out.push(acc & 0xff);
      acc >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) out.push(acc & 0xff);
  return out;
}

function subBlocks(data: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const block = data.slice(i, i + 255);
    out.push(block.length, ...block);
  }
  return out;
}
