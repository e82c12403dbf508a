/**
 * `faceedge train` end to end on a tiny three-label folder: real photos (faces-dev), the real engine (PyTorch),
 * the board's detector, export, verification and packaging. It proves the path, not accuracy: the labels are
 * `female`, `male` and `mono` (greyscale copies of other photos), ten short epochs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT, hasStackTrace, runCli, spawnCli } from '../helpers/run-cli.js';
import { NO_TORCH, torchPython } from '../helpers/torch-python.js';
import { eventsOn } from '../helpers/track-events.js';

const FACES_DEV = join(REPO_ROOT, '../shared/data/faces-dev/train');
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const PER_LABEL = 30;

const python = torchPython();
const skip = !existsSync(FACES_DEV) ? `faces-dev is absent (${FACES_DEV})` : python === null ? NO_TORCH : null;

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(skip !== null)(`faceedge train on three labels (${skip ?? 'faces-dev, real engine'})`, () => {
  let dir: string;
  let photos: string;
  const trainArgs = () => [
    'train',
    photos,
    '--out',
    join(dir, 'models', 'tiny3'),
    '--work',
    join(dir, 'work'),
    '--python',
    python ?? '',
    '--epochs',
    '10',
    '--threads',
    '2',
    '--engine-arg=--stem-stride=2',
    '--engine-arg=--batch-size=32',
    '--min-gain',
    '0',
    '--max-int8-drop',
    '100',
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-train-'));
    photos = join(dir, 'photos');
    const female = readdirSync(join(FACES_DEV, 'female')).sort();
    const male = readdirSync(join(FACES_DEV, 'male')).sort();
    const copy = async (from: string, label: string, greyscale: boolean) => {
      mkdirSync(join(photos, label), { recursive: true });
      const image = sharp(from);
      await (greyscale ? image.greyscale() : image)
        .jpeg({ quality: 90 })
        .toFile(join(photos, label, `${label}-${from.split('/').at(-1)}`));
    };
    for (const name of female.slice(0, PER_LABEL)) await copy(join(FACES_DEV, 'female', name), 'female', false);
    for (const name of male.slice(0, PER_LABEL)) await copy(join(FACES_DEV, 'male', name), 'male', false);
    // `mono`: greyscale copies of other photos of both genders, so the third label is learnable at once.
    for (const name of female.slice(PER_LABEL, PER_LABEL + PER_LABEL / 2))
      await copy(join(FACES_DEV, 'female', name), 'mono', true);
    for (const name of male.slice(PER_LABEL, PER_LABEL + PER_LABEL / 2))
      await copy(join(FACES_DEV, 'male', name), 'mono', true);
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a verified three-label package and prints how to push it', async () => {
    const r = await runCli(trainArgs(), { timeoutMs: 900_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(hasStackTrace(r.stderr)).toBe(false);
    for (const stage of ['split', 'prepare', 'train', 'export', 'verify', 'package'])
      expect(r.stderr).toMatch(new RegExp(`\\[\\d/6 ${stage}\\]`));
    expect(r.stderr).toMatch(/epoch 10: val accuracy/);
    const out = join(dir, 'models', 'tiny3');
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      id: string;
      labels: string[];
      files: Record<string, { path: string }>;
    };
    expect(manifest.id).toBe('tiny3');
    expect(manifest.labels).toEqual(['female', 'male', 'mono']);
    for (const f of Object.values(manifest.files)) expect(existsSync(join(out, f.path))).toBe(true);
    const report = JSON.parse(readFileSync(join(dir, 'work', 'report.json'), 'utf8')) as {
      runtime: { n: number; int8_accuracy: number };
    };
    expect(report.runtime.n).toBeGreaterThan(0);
    expect(r.stdout).toContain(`faceedge model push ${out}`);
    expect(r.stdout).toContain(`faceedge fleet push ${out}`);
  }, 900_000);

  it('the package on a board: eval reads its three labels, it installs signed into a store, and the daemon serving it publishes events with them', async () => {
    const out = join(dir, 'models', 'tiny3');
    const labels = ['female', 'male', 'mono'];
    const evaluated = await runCli(
      ['eval', join(dir, 'work', 'split-0', 'test'), '--model', join(out, 'tiny3_int8.tflite'), '--json'],
      { timeoutMs: 300_000 },
    );
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const report = JSON.parse(evaluated.stdout) as { confusion?: number[][]; labels?: string[] };
    expect(JSON.stringify(report)).toContain('"mono"');

    const keys = join(dir, 'site-key');
    expect((await runCli(['model', 'keygen', '--out', keys])).code).toBe(0);
    expect((await runCli(['model', 'sign', out, '--key', `${keys}.key.pem`])).code).toBe(0);
    const state = join(dir, 'state');
    const installed = await runCli(
      ['model', 'install', out, '--models-dir', join(state, 'models'), '--public-key', `${keys}.pub.pem`],
      { timeoutMs: 300_000 },
    );
    expect(installed.code, installed.stderr).toBe(0);

    const broker = await Mosquitto.start();
    const root = `faceedge/${TEST_DEVICE}`;
    const probe = await MqttProbe.connect(broker.url, [`${root}/#`]);
    const shipped = join(REPO_ROOT, 'models', 'faceedge-gender_int8.tflite');
    const daemon = DaemonProcess.start(
      daemonConfig({
        brokerUrl: broker.url,
        stateDir: state,
        cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
        extra: { models: { public_key: `${keys}.pub.pem` } },
      }),
      { dir, classifier: shipped },
    );
    try {
      await daemon.waitRunning(90_000);
      expect(daemon.logs.some((l) => l.msg.startsWith('serving the model store'))).toBe(true);
      const event = await probe.waitUntil(
        () => eventsOn(probe.messages, `${root}/walk/events`).find((e) => e.after.model === 'tiny3'),
        60_000,
        'an event by tiny3',
      );
      expect([...labels, 'unknown']).toContain(event.after.class);
      // bridge/info tells a subscriber which labels `class` can take, and how unsure a face may be.
      const info = await probe.waitFor(
        (m) =>
          m.topic === `${root}/bridge/info` &&
          (JSON.parse(m.text) as { model?: { id?: string } }).model?.id === 'tiny3',
        30_000,
        'bridge/info naming tiny3',
      );
      expect(JSON.parse(info.text).model).toMatchObject({ labels, unsure_floor: expect.any(Number) });
    } finally {
      await daemon.dispose();
      await probe.close();
      await broker.dispose();
    }
  }, 600_000);

  it('run again: reuses the split, the crops and the run, and refuses to ship a model below the gate, keeping the old package', async () => {
    const out = join(dir, 'models', 'tiny3');
    const before = sha(join(out, 'manifest.json'));
    const args = trainArgs();
    args[args.indexOf('--min-gain') + 1] = '0.99';
    const r = await runCli(args, { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.stderr).toContain('unchanged, reused');
    expect(r.stderr).toContain('done before with the same settings');
    expect(r.stderr).toMatch(/the model is not shipped: test macro recall .* is not 99 points above chance/);
    expect(sha(join(out, 'manifest.json'))).toBe(before);
  }, 600_000);

  it('Ctrl-C stops the training cleanly (exit 130), and the same command resumes it where it stopped', async () => {
    const args = trainArgs();
    args[args.indexOf('--work') + 1] = join(dir, 'work-stop');
    args[args.indexOf('--out') + 1] = join(dir, 'models', 'stopped');
    args[args.indexOf('--epochs') + 1] = '12';
    const child = spawnCli(args);
    let stderr = '';
    const stopped = new Promise<number | null>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        // Only this process gets the signal (as from `kill -INT`): it must pass it on to the engine.
        if (/epoch 1: val/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('close', (code) => resolve(code));
    });
    expect(await stopped, stderr).toBe(130);
    expect(stderr).toMatch(/stopped by SIGINT at epoch \d+, step \d+/);
    expect(stderr).toContain('run the same command again to resume');
    expect(existsSync(join(dir, 'work-stop', 'run', 'last.pt'))).toBe(true);
    expect(existsSync(join(dir, 'models', 'stopped'))).toBe(false);

    const resumed = await runCli(args, { timeoutMs: 900_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming');
    expect(resumed.stderr).toMatch(/resumed after epoch \d+/);
    expect(resumed.stderr).toMatch(/epoch 12: val/);
    expect(resumed.stderr).not.toMatch(/epoch 1: val/);
    expect(existsSync(join(dir, 'models', 'stopped', 'manifest.json'))).toBe(true);
  }, 900_000);
});
