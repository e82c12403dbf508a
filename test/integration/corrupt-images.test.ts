/**
 * Damaged and odd image files through every path that reads photos: a JPEG whose scan data is corrupted
 * (libjpeg decodes it into grey garbage and only warns), a JPEG cut short, a FIFO and a file whose name
 * is not valid UTF-8. `classify`, `eval` and `dataset prepare` report each as an unreadable image with one
 * and the same message, never as "no face" with exit status 0, and never hang.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/capture/decode-image.js';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const ASTRONAUT = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');
const classifier = testClassifierPath();

/** A copy of `jpeg` with `length` bytes of its entropy-coded data, from `offset` after the scan header, overwritten. */
function corruptScan(jpeg: Buffer, offset: number, length: number): Buffer {
  const out = Buffer.from(jpeg);
  const scan = out.indexOf(Buffer.from([0xff, 0xda]));
  for (let i = scan + offset; i < scan + offset + length; i++) out[i] = (i * 7919) & 0xff;
  return out;
}

let dir: string;
let whole: Buffer;
const files: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'faceedge-corrupt-'));
  whole = await sharp(ASTRONAUT).jpeg({ quality: 90 }).toBuffer();
  files.good = join(dir, 'good.jpg');
  writeFileSync(files.good, whole);
  files.corrupt = join(dir, 'corrupt.jpg');
  writeFileSync(files.corrupt, corruptScan(whole, 2000, 4000));
  files.cut = join(dir, 'trunc.jpg');
  writeFileSync(files.cut, whole.subarray(0, Math.floor(whole.length / 2)));
  files.fifo = join(dir, 'pipe.jpg');
  execFileSync('mkfifo', [files.fifo]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('damaged JPEGs', () => {
  it('a corrupted scan is refused as corrupt image data, though libjpeg alone would decode it into garbage', async () => {
    // The damage is real and silent without the strict setting: a lenient decode "succeeds".
    await expect(sharp(readFileSync(files.corrupt), { failOn: 'truncated' }).raw().toBuffer()).resolves.toBeTruthy();
    await expect(decodeImage(readFileSync(files.corrupt), 'corrupt.jpg')).rejects.toMatchObject({
      code: 'IMAGE_UNREADABLE',
      message: expect.stringMatching(/^corrupt\.jpg: corrupt image data, cannot decode \(.*Corrupt JPEG data/),
    });
    await expect(decodeImage(whole, 'good.jpg')).resolves.toMatchObject({ width: 512, height: 512 });
  });

  it('a cut JPEG gets the same message every time, even while other decodes run beside it', async () => {
    const cut = readFileSync(files.cut);
    const messages = new Set<string>();
    for (let round = 0; round < 40; round++) {
      const [message] = await Promise.all([
        decodeImage(cut, 'trunc.jpg').then(
          () => 'decoded',
          (err: Error) => err.message,
        ),
        ...[1, 2, 3].map(() => decodeImage(whole, 'good.jpg')),
      ]);
      messages.add(message);
    }
    expect([...messages]).toEqual([
      'trunc.jpg: premature end of JPEG image: the data stops before its end-of-image marker (cut short)',
    ]);
  });
});

describe.skipIf(!classifier)(`through the CLI (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  it('classify: a corrupt scan, a cut JPEG, a FIFO and a non-UTF-8 name are each one clear error line, exit 1', async () => {
    const lossy = join(dir, 'caf\uFFFD.jpg'); // how Node hands over a Latin-1 "café.jpg" argument
    const images = [files.corrupt, files.cut, files.fifo, lossy, files.good];
    const r = await runCli(['classify', ...images, '--json', '--model', classifier!], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(hasStackTrace(r.stderr), r.stderr).toBe(false);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.file)).toEqual(images);
    expect(lines.slice(0, 4).map((l) => l.error?.code)).toEqual(Array(4).fill('IMAGE_UNREADABLE'));
    expect(lines[0].error.message).toMatch(/corrupt image data, cannot decode/);
    expect(lines[1].error.message).toBe(
      `${files.cut}: premature end of JPEG image: the data stops before its end-of-image marker (cut short)`,
    );
    expect(lines[2].error.message).toBe(`cannot read image ${files.fifo}: it is a FIFO (named pipe)`);
    expect(lines[3].error.message).toMatch(/name is not valid UTF-8/);
    expect(lines[4].faces).toHaveLength(1);
    expect(r.stderr).toContain('4 of 5 image(s) could not be classified');
  });

  it('eval and dataset prepare count the corrupt, cut and FIFO images as unreadable, with the same messages', async () => {
    const root = join(dir, 'labeled');
    for (const label of ['female', 'male']) mkdirSync(join(root, label), { recursive: true });
    copyFileSync(files.good, join(root, 'female', 'good.jpg'));
    copyFileSync(files.corrupt, join(root, 'female', 'corrupt.jpg'));
    copyFileSync(files.cut, join(root, 'male', 'trunc.jpg'));
    execFileSync('mkfifo', [join(root, 'male', 'pipe.jpg')]);

    const evaluation = await runCli(['eval', root, '--json', '--model', classifier!]);
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const summary = JSON.parse(evaluation.stdout);
    expect(summary.n).toBe(4);
    expect(summary.undetected).toEqual({ 'no face': 0, unreadable: 3 });

    const prepared = await runCli(['dataset', 'prepare', root, join(dir, 'crops')]);
    expect(prepared.code, prepared.stderr).toBe(0);
    expect(JSON.parse(prepared.stdout)).toMatchObject({ written: 1, skipped: 3, reasons: { unreadable: 3 } });
    const manifest = JSON.parse(readFileSync(join(dir, 'crops', 'manifest.json'), 'utf8'));
    const detail = (name: string) => manifest.skipped.find((s: { path: string }) => s.path.endsWith(name))?.detail;
    expect(detail('corrupt.jpg')).toMatch(/corrupt image data, cannot decode/);
    expect(detail('trunc.jpg')).toMatch(/premature end of JPEG image: the data stops before its end-of-image marker/);
    expect(detail('pipe.jpg')).toMatch(/it is a FIFO/);
  });
});
