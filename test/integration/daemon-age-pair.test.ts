/**
 * The age model shipped as a pair (issue 24 §4, models/age/) in the real daemon against real Mosquitto:
 * `classifiers: [gender, age + head]` on a faces-dev photo. With recognition on (one faces-dev person enrolled,
 * so that tracks are embedded), `attributes.age` comes from the pair once the track is embedded
 * (`source: image+embedding`); with recognition off, from the 64×64 model alone (`source: image`). A head pinned
 * to another embedder, and a head whose labels are not the model's, stop the start with a clear error.
 * Nothing here depends on the head's weights: the shipped files are swapped for retrained ones.
 * Skips, saying why, where faces-dev is absent.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { FaceEmbedder } from '../../src/inference/face-embedder.js';
import { shippedEmbedderPath } from '../../src/inference/shipped-model.js';
import { readGalleryKey, writeGalleryKey } from '../../src/recognition/gallery-key.js';
import { photoFace } from '../../src/recognition/gallery-photo.js';
import { GalleryStore } from '../../src/recognition/gallery-store.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const FACES_DEV = process.env.FACEEDGE_FACES_DEV ?? '/work/shared/data/faces-dev';
const VAL = join(FACES_DEV, 'val', 'female');
const skip = existsSync(VAL) ? null : `faces-dev not found at ${VAL} (set FACEEDGE_FACES_DEV)`;
const AGE = join(REPO_ROOT, 'models/age/faceedge-age_int8.tflite');
const HEAD_DIR = join(REPO_ROOT, 'models/age/head');
const HEAD = join(HEAD_DIR, 'faceedge-age-head_float32.tflite');
const BANDS = (JSON.parse(readFileSync(join(REPO_ROOT, 'models/age/manifest.json'), 'utf8')) as { labels: string[] })
  .labels;
const ROOT = `faceedge/${TEST_DEVICE}`;

interface Attribute {
  label: string;
  score: number;
  source?: string;
}
interface Event {
  type: string;
  after: { camera: string; attributes?: Record<string, Attribute>; person?: unknown };
}

describe.skipIf(skip !== null)(`the age pair in the daemon (${skip ?? 'faces-dev present'})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let keyFile: string;
  let photo: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-age-pair-'));
    broker = await Mosquitto.start();
    const photos = readdirSync(VAL).sort();
    const embedder = await FaceEmbedder.create({ modelPath: shippedEmbedderPath() });
    const detector = await FaceDetector.create({ model: 'short' });
    try {
      // One enrolled person (anyone usable): a board embeds its tracks only where the gallery has someone.
      let enrolled: Float32Array | null = null;
      for (const name of photos) {
        const face = await photoFace(join(VAL, name), { detector, embedder }, { purpose: 'enrol' });
        if (face.usable && !enrolled) enrolled = face.embedding;
        else if (face.usable) {
          photo = join(VAL, name);
          break;
        }
      }
      if (!enrolled || !photo) throw new Error('too few usable faces-dev photos');
      keyFile = join(dir, 'gallery.key');
      await writeGalleryKey(keyFile);
      mkdirSync(join(dir, 'state'));
      const store = await GalleryStore.open({
        path: join(dir, 'state', 'faces.gallery'),
        key: await readGalleryKey(keyFile),
        model: { id: embedder.id, dimensions: embedder.dimensions },
      });
      await store.enrol('someone', [enrolled]);
    } finally {
      await embedder.close();
      await detector.close();
    }
  }, 180_000);

  afterAll(async () => {
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function config(recognition: Record<string, unknown>, head: { model: string; manifest?: string }, state: string) {
    return daemonConfig({
      brokerUrl: broker.url,
      stateDir: state,
      cameras: [{ name: 'door', source: { type: 'image', path: photo, loop: true, fps: 5 } }],
      extra: {
        detector: { model: 'short' },
        models: { require_signature: false },
        recognition,
        classifiers: [
          { name: 'gender', model: join(REPO_ROOT, 'models/faceedge-gender_int8.tflite') },
          {
            name: 'age',
            model: AGE,
            head: head.model,
            ...(head.manifest !== undefined && { head_manifest: head.manifest }),
            interval_ms: 200,
          },
        ],
      },
    });
  }

  const events = (probe: MqttProbe) =>
    probe.messages
      .filter((m) => m.topic === `${ROOT}/door/events` && !m.retain)
      .map((m) => JSON.parse(m.text) as Event);

  it('with recognition on, attributes.age comes from the pair once the track is embedded', async () => {
    const probe = await MqttProbe.connect(broker.url, [`${ROOT}/door/events`]);
    const daemon = DaemonProcess.start(
      config({ enabled: true, key_file: keyFile }, { model: HEAD }, join(dir, 'state')),
      {
        dir,
        file: 'on.yaml',
      },
    );
    try {
      await daemon.waitRunning(90_000);
      const paired = await probe.waitUntil(
        () => events(probe).find((e) => e.after.attributes?.age?.source === 'image+embedding'),
        90_000,
        'an event whose age the pair decided',
      );
      const age = paired.after.attributes?.age;
      expect([...BANDS, 'unknown']).toContain(age?.label);
      expect(age?.score).toBeGreaterThan(0);
      expect(paired.after.attributes?.gender).toBeDefined();
      // Before the track is embedded, the 64×64 model alone decided: the first event says so.
      expect(events(probe)[0].after.attributes?.age?.source).toBe('image');
      expect(daemon.logs.some((l) => l.msg === 'head loaded' && l.model === 'age')).toBe(true);
      // No embedding leaves the board, in events or logs.
      for (const m of probe.messages) expect(m.text).not.toMatch(/\[(-?\d+\.\d+,){16,}/);
      for (const l of daemon.logs) expect(JSON.stringify(l)).not.toMatch(/\[(-?\d+\.\d+,){16,}/);
      daemon.signal('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
    } finally {
      await daemon.dispose();
      await probe.close();
    }
  }, 240_000);

  it('with recognition off, attributes.age comes from the 64×64 model alone', async () => {
    const probe = await MqttProbe.connect(broker.url, [`${ROOT}/door/events`]);
    const daemon = DaemonProcess.start(config({ enabled: false }, { model: HEAD }, join(dir, 'state-off')), {
      dir,
      file: 'off.yaml',
    });
    try {
      await daemon.waitRunning(90_000);
      await probe.waitUntil(() => events(probe).length >= 1, 60_000, 'an event'); // a still photo: one `new`
      for (const e of events(probe)) {
        expect(e.after.attributes?.age?.source).toBe('image');
        expect([...BANDS, 'unknown']).toContain(e.after.attributes?.age?.label);
      }
    } finally {
      await daemon.dispose();
      await probe.close();
    }
  }, 240_000);

  /** A copy of the shipped head whose manifest `edit` changed. */
  function editedHead(
    name: string,
    edit: (manifest: Record<string, any>) => void,
  ): { model: string; manifest: string } {
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    copyFileSync(HEAD, join(folder, 'faceedge-age-head_float32.tflite'));
    const manifest = JSON.parse(readFileSync(join(HEAD_DIR, 'manifest.json'), 'utf8')) as Record<string, any>;
    edit(manifest);
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
    return { model: join(folder, 'faceedge-age-head_float32.tflite'), manifest: join(folder, 'manifest.json') };
  }

  it('a head paired with another image model (a retrained age model): the image model decides alone, warned', async () => {
    const head = editedHead('other-image-model', (m) => (m.combination.with.sha256 = 'cd'.repeat(32)));
    const probe = await MqttProbe.connect(broker.url, [`${ROOT}/door/events`]);
    const daemon = DaemonProcess.start(config({ enabled: true, key_file: keyFile }, head, join(dir, 'state')), {
      dir,
      file: 'other-image-model.yaml',
    });
    try {
      await daemon.waitRunning(90_000);
      // The track is embedded (its identity decided: a second event), and the head has had its value since.
      await probe.waitUntil(() => events(probe).length >= 2, 90_000, 'the identity update');
      await new Promise((resolve) => setTimeout(resolve, 2000));
      for (const e of events(probe)) expect(e.after.attributes?.age?.source).toBe('image');
      const warned = daemon.logs.filter((l) => String(l.msg).includes('is not the one its head was paired with'));
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ model: 'age', pairedWith: 'cdcdcdcdcdcd' });
    } finally {
      await daemon.dispose();
      await probe.close();
    }
  }, 240_000);

  it('a head pinned to another embedder is refused at start', async () => {
    const head = editedHead('other-embedder', (m) => (m.input.embedder.sha256 = 'ab'.repeat(32)));
    const daemon = DaemonProcess.start(config({ enabled: true, key_file: keyFile }, head, join(dir, 'state')), {
      dir,
      file: 'other-embedder.yaml',
    });
    try {
      expect((await daemon.exited).code).not.toBe(0);
      expect(daemon.stderr + JSON.stringify(daemon.logs)).toMatch(
        /does not fit the running embedder.*is not the head's abababababab/,
      );
    } finally {
      await daemon.dispose();
    }
  }, 120_000);

  it('a head whose labels are not the model’s (order included) is refused at start', async () => {
    const head = editedHead('swapped-labels', (m) => (m.labels = [m.labels[1], m.labels[0], ...m.labels.slice(2)]));
    const daemon = DaemonProcess.start(config({ enabled: false }, head, join(dir, 'state-swapped')), {
      dir,
      file: 'swapped.yaml',
    });
    try {
      expect((await daemon.exited).code).not.toBe(0);
      expect(daemon.stderr + JSON.stringify(daemon.logs)).toMatch(/classifier age: the head's labels \[13-19, 0-12/);
    } finally {
      await daemon.dispose();
    }
  }, 120_000);
});
