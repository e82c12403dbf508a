/**
 * Recognition in the real daemon against real Mosquitto (issue 23 §3): two faces-dev people are enrolled
 * into an encrypted gallery made here (`writeGalleryKey` + `GalleryStore`, embeddings from the shipped
 * embedder as `faces add` makes them); camera `door` shows the other photo of one of them, camera `gate` a
 * stranger's photo. The events must name the enrolled person on `door` and nobody on `gate`, with liveness,
 * and the retained `<cam>/person` must say the same. With recognition off, events carry neither field and
 * no `<cam>/person` is published; a gallery the key cannot open stops the start with a clear error.
 *
 * The people are chosen so that the test is about the daemon, not the model's accuracy: the enrolled
 * person's two photos are measured here to match above the threshold, the stranger to stay well below it.
 * Skips, saying why, where faces-dev is absent.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosineSimilarity, FaceEmbedder } from '../../src/inference/face-embedder.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { shippedEmbedderPath } from '../../src/inference/shipped-model.js';
import { writeGalleryKey } from '../../src/recognition/gallery-key.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { NO_FACES_DEV, openTestGallery, usablePeople, writeTestGallery } from '../helpers/faces-dev-gallery.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const classifier = testClassifierPath();
const skip = NO_FACES_DEV ?? (classifier ? null : NO_CLASSIFIER_REASON);

interface Snapshot {
  id: string;
  camera: string;
  person?: { name: string | null; similarity: number | null };
  liveness?: { outcome: string; score: number | null };
}
interface Event {
  type: string;
  after: Snapshot;
}

describe.skipIf(skip !== null)(`recognition in the daemon (${skip ?? 'faces-dev and a classifier present'})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let keyFile: string;
  let galleryFile: string;
  let enrolled: string;
  let doorPhoto: string;
  let strangerPhoto: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-recognition-'));
    broker = await Mosquitto.start();
    const embedder = await FaceEmbedder.create({ modelPath: shippedEmbedderPath() });
    const detector = await FaceDetector.create({ model: 'short' });
    try {
      // The first identities whose photos are both usable: [id, photos, embeddings].
      const usable = await usablePeople({ detector, embedder });
      const { threshold } = embedder;
      // Enrolled person: their two photos match clearly; the other enrolled person: anyone else.
      const a = usable.find(([, , [x, y]]) => cosineSimilarity(x, y) >= threshold + 0.01);
      if (!a) throw new Error('no faces-dev person whose two photos match above the threshold');
      const b = usable.find((p) => p !== a);
      if (!b) throw new Error('too few usable faces-dev people');
      const enrolledEmbeddings = [a[2][0], ...b[2]];
      const stranger = usable.find(
        (p) => p !== a && p !== b && enrolledEmbeddings.every((e) => cosineSimilarity(e, p[2][0]) < threshold - 0.05),
      );
      if (!stranger) throw new Error('no faces-dev stranger clearly below the threshold');
      enrolled = `person-${a[0]}`;
      doorPhoto = a[1][1];
      strangerPhoto = stranger[1][0];
      keyFile = join(dir, 'gallery.key');
      galleryFile = join(dir, 'state', 'faces.gallery');
      mkdirSync(join(dir, 'state'));
      await writeTestGallery({
        keyFile,
        galleryFile,
        model: { id: embedder.id, dimensions: embedder.dimensions },
        people: [
          [enrolled, [a[2][0]]],
          [`person-${b[0]}`, b[2]],
        ],
      });
    } finally {
      await embedder.close();
      await detector.close();
    }
  }, 180_000);

  afterAll(async () => {
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function config(recognition: Record<string, unknown>, state = join(dir, 'state')) {
    return daemonConfig({
      brokerUrl: broker.url,
      stateDir: state,
      cameras: [
        { name: 'door', source: { type: 'image', path: doorPhoto, loop: true, fps: 5 } },
        { name: 'gate', source: { type: 'image', path: strangerPhoto, loop: true, fps: 5 } },
      ],
      extra: { detector: { model: 'short' }, recognition },
    });
  }

  it('names the enrolled person on one camera and nobody on the other, in events and <cam>/person', async () => {
    const root = `faceedge/${TEST_DEVICE}`;
    const probe = await MqttProbe.connect(broker.url, [`${root}/+/events`, `${root}/+/person`]);
    const daemon = DaemonProcess.start(config({ enabled: true, key_file: keyFile }), { dir, classifier: classifier! });
    try {
      await daemon.waitRunning(90_000);
      const events = () =>
        probe.messages.filter((m) => m.topic.endsWith('/events')).map((m) => JSON.parse(m.text) as Event);
      const door = await probe.waitUntil(
        () => events().find((e) => e.after.camera === 'door' && e.after.person?.name),
        60_000,
        'a decided event on door',
      );
      expect(door.after.person?.name).toBe(enrolled);
      expect(door.after.person?.similarity).toBeGreaterThan(0.9);
      expect(['live', 'attack', 'unknown']).toContain(door.after.liveness?.outcome);
      // Every event of a recognizing board carries both fields, the `new` too (undecided there).
      for (const e of events()) expect(e.after.person && e.after.liveness, JSON.stringify(e)).toBeTruthy();
      // The decision is published as an `update` of a confirmed track, not a new track.
      expect(door.type).toBe('update');

      const person = (camera: string) =>
        probe
          .on(`${root}/${camera}/person`)
          .map((m) => JSON.parse(m.text) as { person: string; similarity: number | null; track: string | null });
      await probe.waitUntil(() => person('door').some((p) => p.person === enrolled), 10_000, 'door/person named');
      await probe.waitUntil(() => person('gate').some((p) => p.person === 'unknown'), 60_000, 'gate/person unknown');
      // Decided, and nobody: no similarity of that face leaves the board (events nor <cam>/person).
      const gate = events().filter((e) => e.after.camera === 'gate');
      expect(gate.length).toBeGreaterThan(0);
      for (const e of gate) expect(e.after.person).toEqual({ name: null, similarity: null });
      for (const p of person('gate')) expect(p).toMatchObject({ similarity: null });
      expect(person('door').at(-1)).toMatchObject({ person: enrolled, track: door.after.id });
      // No embedding ever leaves the board: payloads hold names and numbers, never a vector.
      for (const m of probe.messages) expect(m.text).not.toMatch(/\[(-?\d+\.\d+,){16,}/);
      // Nor reaches the log.
      for (const l of daemon.logs) expect(JSON.stringify(l)).not.toMatch(/\[(-?\d+\.\d+,){16,}/);
      expect(daemon.logs.some((l) => l.msg === 'track recognized' && l.person === enrolled)).toBe(true);

      // `faces remove` beside the daemon (another process's store on the same file): the open track on door
      // becomes nobody without a restart, and no later event names the removed person.
      const removedAt = events().length;
      const cli = await openTestGallery(galleryFile, keyFile);
      await cli.remove(enrolled);
      const later = () =>
        events()
          .slice(removedAt)
          .filter((e) => e.after.camera === 'door');
      await probe.waitUntil(
        () => later().find((e) => e.after.person?.name === null),
        15_000,
        'door nobody after removal',
      );
      for (const e of later()) expect(e.after.person?.name).toBeNull();
      expect(daemon.logs.some((l) => l.msg === 'the gallery file was changed by another process')).toBe(true);

      daemon.signal('SIGTERM');
      expect((await daemon.exited).code).toBe(0);
      // Stopped: every track ended, nobody is in view; the retained state says so to a late subscriber.
      const late = await MqttProbe.connect(broker.url, [`${root}/door/person`]);
      try {
        const retained = await late.waitFor((m) => m.retain, 10_000, 'retained door/person');
        expect(JSON.parse(retained.text)).toMatchObject({ person: 'none', track: null });
      } finally {
        await late.close();
      }
    } finally {
      await daemon.dispose();
      await probe.close();
    }
  }, 240_000);

  it('with recognition off, events carry no person or liveness and no <cam>/person is published', async () => {
    const root = `faceedge/${TEST_DEVICE}`;
    const state = join(dir, 'state-off');
    const probe = await MqttProbe.connect(broker.url, [`${root}/+/events`, `${root}/+/person`]);
    const daemon = DaemonProcess.start(config({ enabled: false }, state), { dir, classifier: classifier! });
    try {
      await daemon.waitRunning(90_000);
      await probe.waitUntil(
        () => probe.messages.filter((m) => m.topic.endsWith('/events') && !m.retain).length >= 2,
        60_000,
        'events of both cameras',
      );
      // Stale retained states of the earlier run are not this run's: only messages published now count.
      const live = probe.messages.filter((m) => !m.retain);
      for (const m of live.filter((x) => x.topic.endsWith('/events'))) {
        const after = (JSON.parse(m.text) as Event).after as unknown as Record<string, unknown>;
        expect(Object.keys(after)).not.toContain('person');
        expect(Object.keys(after)).not.toContain('liveness');
      }
      expect(live.filter((m) => m.topic.endsWith('/person'))).toEqual([]);
    } finally {
      await daemon.dispose();
      await probe.close();
    }
  }, 240_000);

  it('a gallery its key cannot open stops the start with a clear error', async () => {
    const wrongKey = join(dir, 'wrong.key');
    await writeGalleryKey(wrongKey);
    const daemon = DaemonProcess.start(config({ enabled: true, key_file: wrongKey }), {
      dir,
      classifier: classifier!,
      file: 'wrong-key.yaml',
    });
    try {
      const exit = await daemon.exited;
      expect(exit.code).not.toBe(0);
      expect(daemon.stderr + JSON.stringify(daemon.logs)).toMatch(/recognition cannot start: .*wrong key/);
    } finally {
      await daemon.dispose();
    }
  }, 120_000);

  it('an unmeasured recognition.far is refused at start', async () => {
    const daemon = DaemonProcess.start(config({ enabled: true, key_file: keyFile, far: 1e-7 }), {
      dir,
      classifier: classifier!,
      file: 'far.yaml',
    });
    try {
      expect((await daemon.exited).code).not.toBe(0);
      expect(daemon.stderr + JSON.stringify(daemon.logs)).toMatch(/recognition\.far 1e-7.*no threshold measured/);
    } finally {
      await daemon.dispose();
    }
  }, 120_000);
});
