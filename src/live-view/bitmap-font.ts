/**
 * A 5×7 pixel font drawn straight into an RGB buffer, for the live view's box labels. Rendering text
 * through SVG (librsvg + fontconfig) cost ~8 ms per 480×270 frame here, and a board may have no fonts
 * at all; these glyphs cost microseconds and look the same everywhere. Covers what labels need: digits,
 * letters (lower case is drawn as upper case), and `- _ . : % ? / ( )` and space.
 */
import type { RgbImage } from '../capture/frame.js';

/** Glyph width and height in font pixels (one column of spacing follows each glyph). */
export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;

/** Seven rows of five columns each, `#` = ink. Designed for this project. */
const GLYPHS: Record<string, string> = {
  '0': '.###.|#...#|#..##|#.#.#|##..#|#...#|.###.',
  '1': '..#..|.##..|..#..|..#..|..#..|..#..|.###.',
  '2': '.###.|#...#|....#|...#.|..#..|.#...|#####',
  '3': '####.|....#|....#|.###.|....#|....#|####.',
  '4': '...#.|..##.|.#.#.|#..#.|#####|...#.|...#.',
  '5': '#####|#....|####.|....#|....#|#...#|.###.',
  '6': '..##.|.#...|#....|####.|#...#|#...#|.###.',
  '7': '#####|....#|...#.|..#..|.#...|.#...|.#...',
  '8': '.###.|#...#|#...#|.###.|#...#|#...#|.###.',
  '9': '.###.|#...#|#...#|.####|....#|...#.|.##..',
  A: '.###.|#...#|#...#|#####|#...#|#...#|#...#',
  B: '####.|#...#|#...#|####.|#...#|#...#|####.',
  C: '.###.|#...#|#....|#....|#....|#...#|.###.',
  D: '####.|#...#|#...#|#...#|#...#|#...#|####.',
  E: '#####|#....|#....|####.|#....|#....|#####',
  F: '#####|#....|#....|####.|#....|#....|#....',
  G: '.###.|#...#|#....|#.###|#...#|#...#|.####',
  H: '#...#|#...#|#...#|#####|#...#|#...#|#...#',
  I: '.###.|..#..|..#..|..#..|..#..|..#..|.###.',
  J: '..###|...#.|...#.|...#.|...#.|#..#.|.##..',
  K: '#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#',
  L: '#....|#....|#....|#....|#....|#....|#####',
  M: '#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#',
  N: '#...#|#...#|##..#|#.#.#|#..##|#...#|#...#',
  O: '.###.|#...#|#...#|#...#|#...#|#...#|.###.',
  P: '####.|#...#|#...#|####.|#....|#....|#....',
  Q: '.###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#',
  R: '####.|#...#|#...#|####.|#.#..|#..#.|#...#',
  S: '.####|#....|#....|.###.|....#|....#|####.',
  T: '#####|..#..|..#..|..#..|..#..|..#..|..#..',
  U: '#...#|#...#|#...#|#...#|#...#|#...#|.###.',
  V: '#...#|#...#|#...#|#...#|#...#|.#.#.|..#..',
  W: '#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.',
  X: '#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#',
  Y: '#...#|#...#|.#.#.|..#..|..#..|..#..|..#..',
  Z: '#####|....#|...#.|..#..|.#...|#....|#####',
  '-': '.....|.....|.....|#####|.....|.....|.....',
  _: '.....|.....|.....|.....|.....|.....|#####',
  '.': '.....|.....|.....|.....|.....|.##..|.##..',
  ':': '.....|.##..|.##..|.....|.##..|.##..|.....',
  '%': '##...|##..#|...#.|..#..|.#...|#..##|...##',
  '?': '.###.|#...#|....#|...#.|..#..|.....|..#..',
  '/': '.....|....#|...#.|..#..|.#...|#....|.....',
  '(': '...#.|..#..|.#...|.#...|.#...|..#..|...#.',
  ')': '.#...|..#..|...#.|...#.|...#.|..#..|.#...',
  ' ': '.....|.....|.....|.....|.....|.....|.....',
};

/** Each glyph as 7 row bitmasks (bit 4 = leftmost column), parsed once. */
const MASKS = new Map<string, number[]>(
  Object.entries(GLYPHS).map(([ch, rows]) => [
    ch,
    rows.split('|').map((row) => [...row].reduce((m, c) => (m << 1) | (c === '#' ? 1 : 0), 0)),
  ]),
);

/** An RGB colour, each channel 0–255. */
export type Rgb = readonly [number, number, number];

/** Width in image pixels of `text` drawn at `scale`. */
export function textWidth(text: string, scale: number): number {
  return text.length === 0 ? 0 : (text.length * (GLYPH_WIDTH + 1) - 1) * scale;
}

/** Fills a rectangle (clipped to the image). */
export function fillRect(image: RgbImage, x: number, y: number, width: number, height: number, colour: Rgb): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(image.width, Math.round(x + width));
  const y1 = Math.min(image.height, Math.round(y + height));
  const { data } = image;
  for (let row = y0; row < y1; row++) {
    let i = (row * image.width + x0) * 3;
    for (let col = x0; col < x1; col++, i += 3) {
      data[i] = colour[0];
      data[i + 1] = colour[1];
      data[i + 2] = colour[2];
    }
  }
}

/**
 * Draws `text` with its top-left corner at (x, y), each font pixel a `scale`×`scale` square, clipped
 * to the image. Characters without a glyph are drawn as `?`.
 */
export function drawText(image: RgbImage, x: number, y: number, text: string, colour: Rgb, scale = 1): void {
  let penX = Math.round(x);
  const top = Math.round(y);
  for (const ch of text) {
    const mask = MASKS.get(ch) ?? MASKS.get(ch.toUpperCase()) ?? MASKS.get('?')!;
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (mask[row] & (1 << (GLYPH_WIDTH - 1 - col)))
          fillRect(image, penX + col * scale, top + row * scale, scale, scale, colour);
      }
    }
    penX += (GLYPH_WIDTH + 1) * scale;
  }
}
