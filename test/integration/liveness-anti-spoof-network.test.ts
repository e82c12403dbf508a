/**
 * The shipped anti-spoofing model through the real TFLite runtime: load checks, the self-test, the crop the
 * model expects, concurrent calls, and refusals of a tampered file or manifest.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { antiSpoofCrop } from '../../src/liveness/anti-spoof-crop.js';
import { AntiSpoofNetwork, softmax } from '../../src/liveness/anti-spoof-network.js';
import { decodeImage } from '../../src/capture/decode-image.js';

const ROOT = join(import.meta.dirname, '../..');
const MODEL = join(ROOT, 'models/liveness/minifasnet-v1se-80_float32.tflite');
const MANIFEST = join(ROOT, 'models/liveness/manifest.json');
const FIXTURES = join(ROOT, 'test/fixtures/liveness');
const golden = JSON.parse(await readFile(join(FIXTURES, 'golden-crops.json'), 'utf8')) as {
  cases: { name: string; box: [number, number, number, number]; scale: number }[];
};

let network: AntiSpoofNetwork;
let scratch: string;
beforeAll(async () => {
  network = await AntiSpoofNetwork.create({ modelPath: MODEL });
  scratch = await mkdtemp(join(tmpdir(), 'faceedge-liveness-'));
});
afterAll(async () => {
  await network.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('AntiSpoofNetwork', () => {
  it('loads the shipped model, passes its self-test, and runs on XNNPACK', () => {
    expect(network.manifest.task).toBe('presentation-attack-detection');
    expect(network.crop.size).toBe(80);
    expect(network.threshold).toBeGreaterThan(0);
    expect(network.delegate.active).toBe('xnnpack');
  });

  it('scores a face through the crop its manifest records, as the exporter did', async () => {
    const image = await decodeImage(await readFile(join(ROOT, 'test/fixtures/scenes/astronaut.png')), 'astronaut');
    const c = golden.cases.find((k) => k.scale === network.crop.scale)!;
    const box = { x: c.box[0], y: c.box[1], width: c.box[2], height: c.box[3] };
    const png = await sharp(join(FIXTURES, `${c.name}.png`))
      .removeAlpha()
      .raw()
      .toBuffer();
    expect(antiSpoofCrop(image, box, network.crop).equals(png)).toBe(true);
    const expected = network.manifest.selftest.find((t) => t.crop === `${c.name}.png`)!.expected_logits;
    const score = await network.score(image, box);
    score.logits.forEach((x, k) => expect(x).toBeCloseTo(expected[k], 4));
    expect(score.live).toBeCloseTo(softmax(expected)[network.manifest.live_index], 5);
    expect(score.passed).toBe(score.live >= network.threshold);
  });

  it('gives every concurrent caller its own answer', async () => {
    const crops = [0, 60, 120, 200, 255].map((v) => Buffer.alloc(80 * 80 * 3, v));
    const sequential = [];
    for (const crop of crops) sequential.push(await network.scoreCrop(crop));
    const concurrent = await Promise.all([...crops, ...crops].map((crop) => network.scoreCrop(crop)));
    expect(concurrent).toEqual([...sequential, ...sequential]);
    expect(new Set(sequential.map((s) => s.live.toFixed(6))).size).toBe(crops.length);
  });

  it('refuses a model file that is not the one its manifest describes', async () => {
    const model = join(scratch, 'minifasnet-v1se-80_float32.tflite');
    const bytes = await readFile(MODEL);
    bytes[bytes.length - 100] ^= 0xff;
    await writeFile(model, bytes);
    await copyFile(MANIFEST, join(scratch, 'manifest.json'));
    await expect(AntiSpoofNetwork.create({ modelPath: model })).rejects.toMatchObject({
      code: 'MODEL_CHECKSUM_MISMATCH',
    });
  });

  it('refuses a manifest whose self-test the model does not reproduce', async () => {
    const model = join(scratch, 'minifasnet-v1se-80_float32.tflite');
    await copyFile(MODEL, model);
    const manifest = JSON.parse(await readFile(MANIFEST, 'utf8'));
    manifest.selftest[0].expected_logits[1] += 0.5;
    await writeFile(join(scratch, 'manifest.json'), JSON.stringify(manifest));
    await expect(AntiSpoofNetwork.create({ modelPath: model })).rejects.toMatchObject({
      code: 'MODEL_SELFTEST_FAILED',
    });
  });

  it('refuses a manifest that misdescribes the model', async () => {
    const model = join(scratch, 'minifasnet-v1se-80_float32.tflite');
    await copyFile(MODEL, model);
    const manifest = JSON.parse(await readFile(MANIFEST, 'utf8'));
    await writeFile(
      join(scratch, 'manifest.json'),
      JSON.stringify({ ...manifest, crop: { ...manifest.crop, size: 96 } }),
    );
    await expect(AntiSpoofNetwork.create({ modelPath: model })).rejects.toMatchObject({ code: 'MODEL_SHAPE_MISMATCH' });
    await writeFile(join(scratch, 'manifest.json'), JSON.stringify({ ...manifest, live_index: 7 }));
    await expect(AntiSpoofNetwork.create({ modelPath: model })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
    await expect(AntiSpoofNetwork.create({ modelPath: join(scratch, 'absent.tflite') })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
    });
  });
});
