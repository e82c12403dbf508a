/**
 * The live view's icon: `favicon.ico` (what browsers fetch at the site root) is `favicon.svg` (what the
 * page links) drawn at 32×32, as one PNG inside an ICO container. To redraw it after changing the SVG:
 * render the SVG at 32 px with sharp and write the 6-byte ICO header, one 16-byte entry and the PNG.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { liveViewStaticDir } from '../../src/live-view/live-view-routes.js';

describe('live view icon', () => {
  it('favicon.ico is one 32×32 PNG in an ICO container, and shows favicon.svg', async () => {
    const ico = readFileSync(join(liveViewStaticDir(), 'favicon.ico'));
    // ICONDIR: reserved 0, type 1 (icon), one image; ICONDIRENTRY: 32×32, 32 bits, size and offset of the PNG.
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2), ico.readUInt16LE(4)]).toEqual([0, 1, 1]);
    expect([ico[6], ico[7], ico.readUInt16LE(12)]).toEqual([32, 32, 32]);
    const size = ico.readUInt32LE(14);
    const offset = ico.readUInt32LE(18);
    expect(offset + size).toBe(ico.length);
    const png = ico.subarray(offset, offset + size);
    const fromIco = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([fromIco.info.width, fromIco.info.height]).toEqual([32, 32]);
    const fromSvg = await sharp(readFileSync(join(liveViewStaticDir(), 'favicon.svg')), { density: 384 })
      .resize(32, 32)
      .ensureAlpha()
      .raw()
      .toBuffer();
    let difference = 0;
    for (let i = 0; i < fromSvg.length; i++) difference += Math.abs(fromSvg[i] - fromIco.data[i]);
    expect(difference / fromSvg.length).toBeLessThan(2);
  });
});
