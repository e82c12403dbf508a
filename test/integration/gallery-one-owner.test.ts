/**
 * The board's gallery has one owner (the daemon's gallery service, `services.gallery`): it reads the key once,
 * at start, and recognition reads the file through it. With the real detector, embedder and anti-spoofing
 * network and the real recognition part:
 * - the key file removed after the service was built, recognition still starts and reads the gallery (no
 *   second reader of the key);
 * - two enrolments through the service, a change by another writer of the file (a `faces add` beside the
 *   daemon) and reads through the service, all at once while the recognition part's file watcher re-reads
 *   the file: every read sees a whole gallery, and once quiet the recognition part's in-memory gallery is the
 *   file's (same gallery, version and people) and no lock is left behind.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { FaceedgeConfig } from '../../src/config/config-schema.js';
import { boardGalleryService } from '../../src/daemon/board-gallery-service.js';
import { DaemonBus } from '../../src/daemon/daemon-bus.js';
import type { DaemonPart } from '../../src/daemon/daemon-part.js';
import type { DaemonServices } from '../../src/daemon/daemon-services.js';
import { recognitionPart } from '../../src/daemon/parts/recognition-part.js';
import { SharedEmbedder } from '../../src/daemon/shared-embedder.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { silentLogger } from '../../src/observability/logger.js';
import { modelOf } from '../../src/recognition/board-gallery.js';
import type { GalleryContents } from '../../src/recognition/gallery-contents.js';
import { readGalleryKey, writeGalleryKey } from '../../src/recognition/gallery-key.js';
import { photoFaceOfBytes } from '../../src/recognition/gallery-photo.js';
import { GalleryStore } from '../../src/recognition/gallery-store.js';
import type { TrackRecognizer } from '../../src/pipeline/track-recognizer.js';
import type { GalleryTrackRecognizer } from '../../src/recognition/track-recognizer.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { waitUntil } from '../helpers/wait-until.js';

const EMBEDDER = join(REPO_ROOT, 'models/face-embed/faceedge-face-embed_int8.tflite');
const FACES = '/work/shared/data/faces-dev/test';
const PHOTOS = {
  anna: join(FACES, 'female/10001_191146.jpg'),
  bea: join(FACES, 'female/10007_192858.jpg'),
  cleo: join(FACES, 'male/10006_196358.jpg'),
};
const missing = !existsSync(EMBEDDER)
  ? `the embedder ${EMBEDDER} is absent`
  : Object.values(PHOTOS).find((p) => !existsSync(p))
    ? `a faces-dev photo is absent`
    : null;

const names = (g: GalleryContents) => g.people.map((p) => p.name).sort();

describe.skipIf(missing !== null)(`the gallery's one owner (${missing ?? 'real models'})`, { timeout: 120_000 }, () => {
  let dir: string;
  let detector: FaceDetector;
  let embedder: SharedEmbedder;
  let part: DaemonPart | null = null;

  beforeAll(async () => {
    detector = await FaceDetector.create({ model: 'short' });
    embedder = new SharedEmbedder(EMBEDDER);
  });
  afterAll(async () => {
    await detector?.close();
    await embedder?.close();
  });
  afterEach(async () => {
    await part?.stop?.();
    part = null;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A board's config, its gallery service built as the daemon builds it, and the recognition part. */
  async function board() {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-gallery-owner-'));
    mkdirSync(join(dir, 'state'), { mode: 0o700 });
    const keyFile = join(dir, 'gallery.key');
    await writeGalleryKey(keyFile);
    const config: FaceedgeConfig = parseConfig(
      {
        device: { id: 'door-1' },
        state_dir: join(dir, 'state'),
        cameras: [{ name: 'door', source: { type: 'image', path: PHOTOS.anna } }],
        recognition: { enabled: true, key_file: keyFile, model: EMBEDDER },
      },
      { hostname: 'test' },
    );
    const log = silentLogger();
    const bus = new DaemonBus(log);
    const gallery = await boardGalleryService(config, { bus, detector, embedder, log });
    if (!gallery) throw new Error('recognition is on: the service builds a gallery');
    // What recognition holds in memory: the starting gallery it announces, then every one it switches to.
    let inMemory: GalleryContents | null = null;
    bus.on('galleryChanged', (contents) => (inMemory ??= contents));
    const services = {
      embedder,
      gallery,
      classifiers: { models: [] }, // no model with a head on the embedding
      cameras: {
        setRecognizer: (r: TrackRecognizer) => {
          const recognizer = r as GalleryTrackRecognizer<Uint8Array>;
          const setGallery = recognizer.setGallery.bind(recognizer);
          recognizer.setGallery = (contents) => {
            inMemory = contents;
            setGallery(contents);
          };
        },
      },
      mqtt: {
        setRetained: () => undefined,
        topics: { person: (camera: string) => `faceedge/door-1/${camera}/person` },
      },
    } as unknown as DaemonServices;
    part = recognitionPart.build(config, { log, bus, services });
    if (!part) throw new Error('recognition is on: the part is built');
    return { config, keyFile, gallery, part, inMemory: () => inMemory };
  }

  const photo = (name: keyof typeof PHOTOS) => [{ origin: name, data: readFileSync(PHOTOS[name]) }];

  it('reads the key once: with the key file gone after start, recognition still reads the gallery', async () => {
    const { keyFile, gallery, part, inMemory } = await board();
    await gallery.enrol('Anna', photo('anna'));
    rmSync(keyFile);
    await part.start?.();
    const held = inMemory();
    expect(held && names(held)).toEqual(['Anna']);
  });

  it('keeps the file and the in-memory gallery consistent with enrolments, another writer and re-reads at once', async () => {
    const { config, keyFile, gallery, part, inMemory } = await board();
    await part.start?.();
    const path = config.recognition.gallery;
    const tools = { detector, embedder: await embedder.get() };
    const model = modelOf(tools);
    const cleo = await photoFaceOfBytes(readFileSync(PHOTOS.cleo), 'cleo', tools, { purpose: 'enrol' });
    if (!cleo.usable) throw new Error(`the Cleo photo is not usable: ${cleo.reason}`);
    // Another process's `faces add`: its own store on the file, ordered with the daemon's by the file lock.
    const beside = await GalleryStore.open({ path, key: await readGalleryKey(keyFile), model });

    const reads: GalleryContents[] = [];
    let changing = true;
    const reader = (async () => {
      while (changing) reads.push(await gallery.read(model));
    })();
    const changes = Promise.all([
      gallery.enrol('Anna', photo('anna')),
      gallery.enrol('Bea', photo('bea')),
      beside.enrol('Cleo', [cleo.embedding]),
    ]);
    await changes.finally(() => (changing = false));
    await reader;

    const file = await gallery.read(model);
    expect(names(file)).toEqual(['Anna', 'Bea', 'Cleo']);
    expect(file.version).toBe(3);
    expect(reads.length).toBeGreaterThan(0);
    // Every read saw a whole gallery: a version the file held, and the people of that version.
    for (const r of reads) {
      expect(r.version).toBeGreaterThanOrEqual(0);
      expect(r.version).toBeLessThanOrEqual(3);
      expect(r.people).toHaveLength(r.version);
    }
    // The other writer's change reaches recognition through the watcher's re-read; the daemon's own through the bus.
    await waitUntil(() => inMemory()?.version === file.version, 15_000, 'recognition to follow the file');
    const held = inMemory();
    expect(held?.galleryId).toBe(file.galleryId);
    expect(held && names(held)).toEqual(names(file));
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});
