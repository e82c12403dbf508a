/**
 * The JPEG marker parser must say exactly what libvips says about every JPEG it accepts (size,
 * orientation), and hand anything it cannot read back to libvips (null).
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { parseJpegHeader } from '../../src/capture/jpeg-header.js';
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
