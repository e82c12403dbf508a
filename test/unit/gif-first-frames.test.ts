import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { summarizeGifBlocks } from '../../src/capture/gif-blocks.js';
import { gifFirstFrames } from '../arm64/gif-first-frames.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const CLIP = join(REPO_ROOT, 'test/fixtures/scenes/head-pose-face-detection-female-and-male.gif');

describe('gifFirstFrames (the arm64 parity clip)', () => {
  test('keeps exactly the first n frames, byte for byte, as a complete GIF', () => {
    const full = readFileSync(CLIP);
    const short = gifFirstFrames(full, 10);
    expect(summarizeGifBlocks(short)).toEqual({ wholeImages: 10, cutInsideImage: false, trailer: true });
    expect(short.at(-1)).toBe(0x3b);
    expect(full.subarray(0, short.length - 1).equals(short.subarray(0, -1))).toBe(true);
  });

  test('refuses a GIF with fewer frames, and what is not a GIF', () => {
    const full = readFileSync(CLIP);
    expect(() => gifFirstFrames(full, 57)).toThrow('the GIF has 56 frames, fewer than 57');
    expect(() => gifFirstFrames(Buffer.from('PNG not a gif'), 1)).toThrow('not a GIF');
  });
});
