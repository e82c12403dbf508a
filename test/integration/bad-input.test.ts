/**
 * Bad images and bad models: each gives a typed FaceedgeError with a clear message, and through the
 * CLI a one-line message and a non-zero exit, never a crash or a stack trace.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceedgeError, type FaceedgeErrorCode } from '../../src/errors.js';
import { FaceClassifier } from '../../src/inference/face-classifier.js';
import { TfliteModel } from '../../src/inference/tflite-model.js';
import { decodeImage } from '../../src/capture/decode-image.js';
import { FaceDetector, blazeFaceModelPath } from '../../src/inference/face-detector.js';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const ASTRONAUT = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');

/** CRC-32 (IEEE) of a PNG chunk's type + data. */
function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A PNG whose valid, CRC-correct header claims width × height RGB pixels, with a token IDAT (the
 * decoder's header parser wants one) and no real image data: only a header check can refuse it early.
 */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filter, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idat = pngChunk('IDAT', deflateSync(Buffer.alloc(16)));
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), idat, pngChunk('IEND', Buffer.alloc(0))]);
}

async function expectCode(promise: Promise<unknown>, code: FaceedgeErrorCode): Promise<FaceedgeError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(FaceedgeError);
  expect((err as FaceedgeError).code).toBe(code);
  expect((err as FaceedgeError).message.length).toBeGreaterThan(10);
  return err as FaceedgeError;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A manifest next to `modelPath` that lists it with `sha` (its real sha256 unless given). */
function writeManifest(modelPath: string, sha = sha256(readFileSync(modelPath))): void {
  const file = modelPath.split('/').pop() as string;
  const manifest = {
    id: 'bad-input-test',
    labels: ['female', 'male'],
    input: { width: 64, height: 64, channels: 3 },
    files: { int8: { path: file, dtype: 'int8', sha256: sha, bytes: readFileSync(modelPath).length } },
  };
  writeFileSync(join(modelPath, '..', 'manifest.json'), JSON.stringify(manifest));
}

let dir: string;
const files: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'faceedge-bad-input-'));
  const jpeg = await sharp(ASTRONAUT).jpeg({ quality: 90 }).toBuffer();
  files.truncatedJpeg = join(dir, 'truncated.jpg');
  writeFileSync(files.truncatedJpeg, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  // A JPEG whose frame header says 85-bit samples: libvips repeats its decoder's complaint several times.
  const badHeader = Buffer.from(jpeg);
  badHeader[badHeader.indexOf(Buffer.from([0xff, 0xc0])) + 4] = 85;
  files.badHeaderJpeg = join(dir, 'bad-header.jpg');
  writeFileSync(files.badHeaderJpeg, badHeader);
  files.notAnImage = join(dir, 'notes.jpg');
  writeFileSync(files.notAnImage, 'this is a text file with a .jpg name\n');
  files.huge = join(dir, 'huge.png');
  writeFileSync(files.huge, pngClaiming(30000, 30000));
  files.onePixel = join(dir, 'one-pixel.png');
  await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
    .png()
    .toFile(files.onePixel);
  // The astronaut with an alpha channel: opaque except a fully transparent 32-px band at the top.
  files.alpha = join(dir, 'alpha.png');
  const { data, info } = await sharp(ASTRONAUT).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < info.width * 32; i++) data[i * 4 + 3] = 0;
  await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } })
    .png()
    .toFile(files.alpha);

  for (const name of ['garbage', 'blazeface', 'tampered']) files[`${name}Dir`] = mkdtempSync(join(dir, `${name}-`));
  files.garbageModel = join(files.garbageDir, 'garbage.tflite');
  writeFileSync(files.garbageModel, Buffer.from('not a flatbuffer at all, just some bytes pretending'.repeat(20)));
  writeManifest(files.garbageModel);
  files.blazefaceModel = join(files.blazefaceDir, 'face_detection_short_range.tflite');
  copyFileSync(blazeFaceModelPath('short'), files.blazefaceModel);
  writeManifest(files.blazefaceModel);
  files.tamperedModel = join(files.tamperedDir, 'face_detection_short_range.tflite');
  copyFileSync(blazeFaceModelPath('short'), files.tamperedModel);
  writeManifest(files.tamperedModel, 'ab'.repeat(32));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bad images', () => {
  it('a truncated JPEG and a text file are IMAGE_UNREADABLE', async () => {
    const truncated = await expectCode(
      decodeImage(readFileSync(files.truncatedJpeg), 'truncated.jpg'),
      'IMAGE_UNREADABLE',
    );
    expect(truncated.message).toContain('truncated.jpg');
    await expectCode(decodeImage(readFileSync(files.notAnImage), 'notes.jpg'), 'IMAGE_UNREADABLE');
  });

  it('a PNG whose header claims 30000×30000 is refused from the header as IMAGE_TOO_LARGE', async () => {
    const err = await expectCode(decodeImage(readFileSync(files.huge), 'huge.png'), 'IMAGE_TOO_LARGE');
    expect(err.message).toContain('30000x30000');
    expect(err.hint).toBeTruthy();
  });

  it('a PNG with alpha decodes to RGB with transparent pixels on black, and its face is still found', async () => {
    const image = await decodeImage(readFileSync(files.alpha), 'alpha.png');
    expect([image.width, image.height, image.data.length]).toEqual([512, 512, 512 * 512 * 3]);
    expect([...image.data.subarray(0, 6)]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(image.data.subarray(512 * 40 * 3, 512 * 41 * 3).some((v) => v > 0)).toBe(true);
    const detector = await FaceDetector.create();
    try {
      expect(await detector.detect(image)).toHaveLength(1);
    } finally {
      await detector.close();
    }
  });

  it('a 1×1 image decodes and simply has no face', async () => {
    const image = await decodeImage(readFileSync(files.onePixel), 'one-pixel.png');
    expect([image.width, image.height]).toEqual([1, 1]);
    const detector = await FaceDetector.create();
    try {
      expect(await detector.detect(image)).toEqual([]);
    } finally {
      await detector.close();
    }
  });
});

describe('bad models', () => {
  it('a .tflite that is not a model is MODEL_INVALID', async () => {
    await expectCode(TfliteModel.load(files.garbageModel), 'MODEL_INVALID');
    await expectCode(FaceClassifier.create({ modelPath: files.garbageModel }), 'MODEL_INVALID');
  });

  it('a model whose input is not 64×64×3 (BlazeFace, 128×128) is MODEL_SHAPE_MISMATCH', async () => {
    const err = await expectCode(FaceClassifier.create({ modelPath: files.blazefaceModel }), 'MODEL_SHAPE_MISMATCH');
    expect(err.message).toMatch(/128x128x3|expected 1 input and 1 output/);
  });

  it('a manifest whose sha256 does not match is MODEL_CHECKSUM_MISMATCH, checked before the model is parsed', async () => {
    await expectCode(FaceClassifier.create({ modelPath: files.tamperedModel }), 'MODEL_CHECKSUM_MISMATCH');
  });

  it('a missing model is MODEL_NOT_FOUND and a model without manifest is MODEL_INVALID', async () => {
    await expectCode(FaceClassifier.create({ modelPath: join(dir, 'absent.tflite') }), 'MODEL_NOT_FOUND');
    await expectCode(FaceClassifier.create({ modelPath: blazeFaceModelPath('short') }), 'MODEL_INVALID');
  });
});

describe('through the CLI', () => {
  const cases: [string, () => string, RegExp][] = [
    ['not a model', () => files.garbageModel, /not a TFLite model/],
    [
      'wrong input shape',
      () => files.blazefaceModel,
      /input is 1x128x128x3, expected 1x64x64x3|expected 1 input and 1 output/,
    ],
    ['checksum mismatch', () => files.tamperedModel, /does not match the manifest/],
  ];
  for (const [what, model, message] of cases) {
    it(`classify with a bad model (${what}) prints one clear message and exits 1`, async () => {
      const r = await runCli(['classify', ASTRONAUT, '--json', '--model', model()]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^faceedge: /m);
      expect(r.stderr).toMatch(message);
      expect(hasStackTrace(r.stderr), r.stderr).toBe(false);
    });
  }

  it('eval with a bad model fails the same way', async () => {
    const r = await runCli(['eval', dir, '--json', '--model', files.garbageModel]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/not a TFLite model/);
    expect(hasStackTrace(r.stderr), r.stderr).toBe(false);
  });

  it('a bad --limit is a usage error (exit 2)', async () => {
    const r = await runCli(['eval', dir, '--limit', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--limit must be a positive integer');
  });

  const classifier = testClassifierPath();
  it.skipIf(!classifier)(
    `classify reports each bad image on its own line, keeps going and exits 1 (${classifier ? 'real classifier' : NO_CLASSIFIER_REASON})`,
    async () => {
      const images = [files.truncatedJpeg, files.huge, files.onePixel, files.alpha, join(dir, 'absent.jpg'), ASTRONAUT];
      const r = await runCli(['classify', ...images, '--json', '--model', classifier as string]);
      expect(r.code).toBe(1);
      expect(hasStackTrace(r.stderr), r.stderr).toBe(false);
      expect(r.stderr).toContain('3 of 6 image(s) could not be classified');
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.file)).toEqual(images);
      expect(lines.map((l) => l.error?.code ?? null)).toEqual([
        'IMAGE_UNREADABLE',
        'IMAGE_TOO_LARGE',
        null,
        null,
        'IMAGE_UNREADABLE',
        null,
      ]);
      expect(lines[2].faces).toEqual([]);
      expect(lines[3].faces).toHaveLength(1);
      expect(lines[5].faces).toHaveLength(1);
    },
  );

  it.skipIf(!classifier)(
    `a corrupt JPEG header is one clean line: libvips' repeated complaint is said once, nothing else on stderr (${classifier ? 'real classifier' : NO_CLASSIFIER_REASON})`,
    async () => {
      const r = await runCli(['classify', files.badHeaderJpeg, '--model', classifier as string]);
      expect(r.code).toBe(1);
      const output = `${r.stdout}\n${r.stderr}`;
      expect(output.match(/Unsupported JPEG data precision 85/g), output).toHaveLength(1);
      expect(
        output.split('\n').filter((l) => /^\s*(\(\S+\): )?VIPS|^\s*Vips/i.test(l)),
        output,
      ).toEqual([]);
      expect(
        r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('INFO: Created TensorFlow Lite')),
        r.stderr,
      ).toEqual(['faceedge: 1 of 1 image(s) could not be classified']);
    },
  );

  it.skipIf(!classifier)(
    `eval of a missing folder is DATASET_INVALID, exit 1 (${classifier ? 'real classifier' : NO_CLASSIFIER_REASON})`,
    async () => {
      const r = await runCli(['eval', join(dir, 'nowhere'), '--model', classifier as string]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/nowhere is not a folder/);
      expect(hasStackTrace(r.stderr), r.stderr).toBe(false);
    },
  );
});
