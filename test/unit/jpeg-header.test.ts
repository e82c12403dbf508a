/**
 * The JPEG marker parser must say exactly what libvips says about every JPEG it accepts (size,
 * orientation), and hand anything it cannot read back to libvips (null).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jpegIsTruncated, parseJpegHeader } from '../../src/capture/jpeg-header.js';
import { probeImage } from '../../src/capture/probe-image.js';

async function libvipsHeader(data: Buffer) {
  const meta = await sharp(data).metadata();
  return meta.orientation === undefined
    ? { width: meta.width, height: meta.height }
    : { width: meta.width, height: meta.height, orientation: meta.orientation };
}

const picture = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 40, g: 90, b: 160 } } });

describe('parseJpegHeader', () => {
  it('agrees with libvips on baseline, progressive, greyscale and EXIF-rotated JPEGs', async () => {
    const jpegs = [
      await picture(1280, 720).jpeg({ quality: 85 }).toBuffer(),
      await picture(641, 359).jpeg({ progressive: true }).toBuffer(),
      await picture(37, 1000).greyscale().jpeg().toBuffer(),
      await picture(300, 200).jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(),
      ...(await Promise.all(
        [1, 3, 6, 8].map((orientation) => picture(320, 240).withMetadata({ orientation }).jpeg().toBuffer()),
      )),
    ];
    for (const jpeg of jpegs) expect(parseJpegHeader(jpeg)).toEqual(await libvipsHeader(jpeg));
    // The EXIF cases did carry their orientation (the comparison above is not vacuous).
    expect(parseJpegHeader(jpegs[6])?.orientation).toBe(6);
  });

  it('gives up (null) on anything that is not a readable JPEG header, so libvips judges it', async () => {
    const good = await picture(64, 48).jpeg().toBuffer();
    expect(parseJpegHeader(Buffer.from('not an image'))).toBeNull();
    expect(parseJpegHeader(await picture(64, 48).png().toBuffer())).toBeNull();
    expect(parseJpegHeader(good.subarray(0, 20))).toBeNull(); // cut before the frame header
    const broken = Buffer.from(good);
    broken[2] = 0x00; // not a marker where one must be
    expect(parseJpegHeader(broken)).toBeNull();
  });

  it('keeps probeImage errors: a truncated header is still refused as unreadable, big frames as too large', async () => {
    const good = await picture(64, 48).jpeg().toBuffer();
    await expect(probeImage(good.subarray(0, 20))).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE' });
    await expect(
      probeImage(await picture(1280, 720).jpeg().toBuffer(), { maxPixels: 1280 * 720 - 1 }),
    ).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(await probeImage(good)).toEqual({ width: 64, height: 48, format: 'jpeg' });
  });
});

describe('jpegIsTruncated', () => {
  it('agrees with libvips: true exactly where a decode reports a premature end, at every cut point', async () => {
    const jpegs = [
      await picture(320, 240).jpeg({ quality: 85 }).toBuffer(),
      await picture(320, 240).jpeg({ progressive: true }).toBuffer(),
      // With an EXIF block before the scan.
      await picture(320, 240).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
    ];
    for (const jpeg of jpegs) {
      expect(jpegIsTruncated(jpeg)).toBe(false);
      // Trailing padding after the end marker, as some cameras write, is not a cut.
      expect(jpegIsTruncated(Buffer.concat([jpeg, Buffer.alloc(64)]))).toBe(false);
      for (const fraction of [0.02, 0.1, 0.3, 0.5, 0.9, 0.99]) {
        const cut = jpeg.subarray(0, Math.max(4, Math.floor(jpeg.length * fraction)));
        expect(jpegIsTruncated(cut), `cut at ${cut.length} of ${jpeg.length}`).toBe(true);
        await expect(sharp(cut, { failOn: 'truncated' }).raw().toBuffer()).rejects.toThrow();
      }
      expect(jpegIsTruncated(jpeg.subarray(0, jpeg.length - 1))).toBe(true);
    }
  });

  it('leaves anything that is no JPEG to libvips (false)', async () => {
    expect(jpegIsTruncated(Buffer.from('not an image'))).toBe(false);
    expect(jpegIsTruncated(await picture(64, 48).png().toBuffer())).toBe(false);
  });
});
