import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { MjpegParser } from '../../src/capture/mjpeg-parser.js';
import { noiseBytes, noiseJpeg } from '../helpers/capture-sink.js';

/** Feeds `stream` in chunks whose sizes cycle through `sizes`; returns all frames. */
function feed(parser: MjpegParser, stream: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(...parser.push(stream.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/** Seeded chunk sizes 1…4096, so splits land on markers, stuffed bytes and lengths. */
function randomSizes(count: number, seed: number): number[] {
  return [...noiseBytes(count * 2, seed).values()].reduce<number[]>(
    (acc, b, i, all) => (i % 2 ? acc : [...acc, 1 + (((b << 8) | all[i + 1]) % 4096)]),
    [],
  );
}

/** Garbage with no FF byte, so it cannot contain a marker. */
const garbage = (n: number, seed: number): Buffer => Buffer.from(noiseBytes(n, seed).map((b) => b % 0xfe));

let jpegs: Buffer[];

beforeAll(async () => {
  jpegs = await Promise.all([0, 1, 2, 3, 4].map((i) => noiseJpeg(96 + i * 8, 64, i + 1)));
});

describe('MjpegParser', () => {
  it('returns every frame byte for byte, whatever the chunking', () => {
    const stream = Buffer.concat([garbage(100, 9), jpegs[0], jpegs[1], garbage(37, 10), jpegs[2]]);
    // The noise JPEGs really exercise byte stuffing.
    expect(jpegs[0].subarray(200).indexOf(Buffer.from([0xff, 0x00]))).toBeGreaterThan(0);
    for (const sizes of [[1], [2], [7], [stream.length], randomSizes(64, 3)]) {
      const parser = new MjpegParser();
      const frames = feed(parser, stream, sizes);
      parser.end();
      expect(frames).toEqual([jpegs[0], jpegs[1], jpegs[2]]);
      expect(parser.stats()).toEqual({ frames: 3, skipped: 0, garbageBytes: 137 });
    }
  });

  it('skips a truncated frame and a broken one in the middle and a truncated last frame, and keeps going', async () => {
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0x12, 0x34]), jpegs[3].subarray(2)]);
    const stream = Buffer.concat([
      jpegs[0],
      jpegs[1].subarray(0, jpegs[1].length >> 1), // cut: the next SOI arrives before its EOI
      jpegs[2],
      garbage(50, 4),
      broken, // SOI followed by bytes that are not a marker
      jpegs[4],
      jpegs[3].subarray(0, jpegs[3].length - 300), // the stream ends inside this one
    ]);
    for (const sizes of [[1], [13], randomSizes(64, 5)]) {
      const skips: string[] = [];
      const parser = new MjpegParser({ onSkip: (reason) => skips.push(reason) });
      const frames = feed(parser, stream, sizes);
      expect(parser.stats().skipped).toBe(2);
      parser.end();
      expect(frames).toEqual([jpegs[0], jpegs[2], jpegs[4]]);
      expect(parser.stats().skipped).toBe(3);
      expect(skips).toHaveLength(3);
      expect(skips[2]).toMatch(/ended inside a frame/);
    }
    // What comes out decodes.
    const meta = await sharp(jpegs[4]).metadata();
    expect([meta.width, meta.height]).toEqual([128, 64]);
  });

  it('recovers the next frames wherever a frame is cut, headers included', () => {
    // Every cut point: inside the markers, a length field, a table, the scan header, the entropy data.
    for (let cut = 1; cut < jpegs[0].length; cut++) {
      const parser = new MjpegParser();
      const frames = parser.push(Buffer.concat([jpegs[0].subarray(0, cut), jpegs[1], jpegs[2]]));
      if (frames.length !== 2 || !frames[0].equals(jpegs[1]) || !frames[1].equals(jpegs[2])) {
        throw new Error(`cut at byte ${cut}: got ${frames.length} frames (${frames.map((f) => f.length)})`);
      }
      expect(parser.stats().skipped).toBe(cut >= 2 ? 1 : 0);
    }
  });

  it('does not end a frame at the EOI of an EXIF thumbnail inside APP1', () => {
    const thumb = jpegs[0];
    const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), thumb]);
    const app1 = Buffer.alloc(4);
    app1.writeUInt16BE(0xffe1, 0);
    app1.writeUInt16BE(payload.length + 2, 2);
    const withThumb = Buffer.concat([jpegs[1].subarray(0, 2), app1, payload, jpegs[1].subarray(2)]);
    const parser = new MjpegParser();
    expect(feed(parser, Buffer.concat([withThumb, jpegs[2]]), [5])).toEqual([withThumb, jpegs[2]]);
    expect(parser.stats().skipped).toBe(0);
  });

  it('bounds its memory on a stream that never sends EOI, then recovers', () => {
    const sos = jpegs[0].indexOf(Buffer.from([0xff, 0xda]));
    const header = jpegs[0].subarray(0, sos + 2 + jpegs[0].readUInt16BE(sos + 2));
    const parser = new MjpegParser({ maxFrameBytes: 64 * 1024 });
    parser.push(header);
    let maxPending = 0;
    const chunk = garbage(4096, 6); // entropy data without any marker
    for (let i = 0; i < 256; i++) {
      parser.push(chunk);
      maxPending = Math.max(maxPending, parser.pendingBytes);
    }
    expect(maxPending).toBeLessThanOrEqual(64 * 1024 + 4096);
    expect(parser.stats().skipped).toBe(1);
    expect(parser.push(jpegs[2])).toEqual([jpegs[2]]);
  });

  it('splits a real ffmpeg MJPEG stream into decodable frames', async () => {
    const stream = execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x120:rate=10',
      '-frames:v',
      '5',
      '-f',
      'mjpeg',
      '-',
    ]);
    const parser = new MjpegParser();
    const frames = feed(parser, stream, randomSizes(32, 7));
    expect(frames).toHaveLength(5);
    expect(Buffer.concat(frames)).toEqual(stream);
    const meta = await sharp(frames[4]).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 160, 120]);
  });
});
