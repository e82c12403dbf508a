/**
 * Enrolment over MQTT against the real daemon (issue 23 §2): `faces/add` with base64 photos (a CelebA face,
 * a grey PNG with no face, bytes that are no image), `faces/list`, `faces/remove`, and the bounded refusals
 * (too many photos, bad base64, a bad name). Each change lands in the board's encrypted gallery file, is
 * audited with the name and counts but never the photos, and no photo is written anywhere under state_dir.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../src/model-push/model-signature.js';
import { writeGalleryKey, readGalleryKey } from '../../src/recognition/gallery-key.js';
import { GalleryStore } from '../../src/recognition/gallery-store.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { readTestGallery } from '../helpers/faces-dev-gallery.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const classifier = testClassifierPath();
const EMBEDDER = join(REPO_ROOT, 'models/face-embed/faceedge-face-embed_int8.tflite');
const PHOTOS = '/work/shared/data/faces-dev/test/female';
const ANNA = join(PHOTOS, '10001_191146.jpg');
const missing = !classifier
  ? NO_CLASSIFIER_REASON
  : !existsSync(EMBEDDER)
    ? `the embedder ${EMBEDDER} is absent`
    : !existsSync(ANNA)
      ? `the faces-dev photos (${PHOTOS}) are absent`
      : null;
const ROOT = `faceedge/${TEST_DEVICE}`;
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');

interface BridgeResponse {
  status: 'ok' | 'error';
  data: Record<string, any>;
  error?: string;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const signer = generateSigningKeyPair();
const EMBEDDER_MANIFEST = JSON.parse(readFileSync(join(REPO_ROOT, 'models/face-embed/manifest.json'), 'utf8')) as {
  id: string;
  embedding: { dimensions: number };
};

describe.skipIf(missing !== null)(`enrolment over MQTT (${missing ?? 'real daemon'})`, { timeout: 180_000 }, () => {
  let dir: string;
  let state: string;
  let keyFile: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  let daemon: DaemonProcess;
  const anna = () => readFileSync(ANNA);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-enrolment-'));
    state = join(dir, 'state');
    keyFile = join(dir, 'gallery.key');
    await writeGalleryKey(keyFile);
    writeFileSync(join(dir, 'signing.pem'), signer.privateKeyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'signing.pub.pem'), signer.publicKeyPem);
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`]);
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: state,
      // A looping clip: the daemon keeps running (a single image ends it).
      cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
      extra: {
        recognition: { enabled: true, key_file: keyFile, model: EMBEDDER },
        models: { public_key: join(dir, 'signing.pub.pem') },
      },
    });
    daemon = DaemonProcess.start(config, { dir, classifier: classifier! });
    await daemon.waitRunning(60_000);
  }, 120_000);
  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  let transactions = 0;
  /** Publishes a request and returns its response (matched by transaction, so requests may overlap). */
  async function request(command: string, body: unknown): Promise<BridgeResponse> {
    const from = probe.messages.length;
    const topic = `${ROOT}/bridge/response/${command}`;
    const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
    const transaction = isObject
      ? ((body as { transaction?: unknown }).transaction ?? `t${++transactions}`)
      : undefined;
    await probe.publish(
      `${ROOT}/bridge/request/${command}`,
      JSON.stringify(isObject ? { ...body, transaction } : body),
    );
    const reply = await probe.waitUntil(
      () =>
        probe.messages
          .slice(from)
          .find(
            (m) =>
              m.topic === topic &&
              (transaction === undefined ||
                (JSON.parse(m.text) as BridgeResponse & { transaction?: unknown }).transaction === transaction),
          ),
      120_000,
      `response on ${topic}`,
    );
    return JSON.parse(reply.text) as BridgeResponse;
  }

  const gallery = () => readTestGallery(join(state, 'faces.gallery'), keyFile);

  it('faces/add enrols from the usable photos, reports each one, writes the encrypted gallery, audits without photos', async () => {
    const sharp = (await import('sharp')).default;
    const grey = await sharp({
      create: { width: 160, height: 160, channels: 3, background: { r: 128, g: 128, b: 128 } },
    })
      .png()
      .toBuffer();
    const auditFrom = probe.messages.length;
    const r = await request('faces/add', {
      name: 'Anna Example',
      photos: [anna().toString('base64'), grey.toString('base64'), Buffer.from('not an image').toString('base64')],
      transaction: 7,
    });
    expect(r.status, r.error).toBe('ok');
    expect(r.data).toMatchObject({ name: 'Anna Example', used: 1, embeddings: 1 });
    const photos = r.data.photos as Record<string, any>[];
    expect(photos.map((p) => [p.photo, p.usable])).toEqual([
      ['photo 1', true],
      ['photo 2', false],
      ['photo 3', false],
    ]);
    expect(photos[0].quality.eye_distance_px).toBeGreaterThan(20);
    expect(photos[1].reason).toBe('no face');
    expect(JSON.stringify(r.data)).not.toMatch(/embedding"\s*:\s*\[/);

    const contents = await gallery();
    expect(contents.people.map((p) => [p.name, p.embeddings.length])).toEqual([['Anna Example', 1]]);
    expect(statSync(join(state, 'faces.gallery')).mode & 0o777).toBe(0o600);
    // The bus was told (galleryChanged), with the contents written.
    expect(daemon.logs.some((l) => l.msg === 'gallery changed' && l.version === contents.version)).toBe(true);

    const audit = await probe.waitUntil(
      () => probe.messages.slice(auditFrom).find((m) => m.topic === `${ROOT}/audit` && m.text.includes('faces/add')),
      10_000,
      'the audit record',
    );
    expect(JSON.parse(audit.text)).toMatchObject({
      action: 'bridge/faces/add',
      target: 'Anna Example',
      outcome: 'accepted',
      detail: { photos: 3, used: 1 },
    });
    const photoPrefix = anna().toString('base64').slice(0, 40);
    expect(audit.text).not.toContain(photoPrefix);
    expect(daemon.logs.some((l) => JSON.stringify(l).includes(photoPrefix))).toBe(false);
    // The photo is nowhere on disk: no file under state_dir holds its bytes.
    const head = anna().subarray(0, 256);
    for (const file of filesUnder(state)) expect(readFileSync(file).includes(head), file).toBe(false);
  });

  it('faces/list names and counts; faces/remove erases; both audited apart (list is read-only)', async () => {
    const list = await request('faces/list', {});
    expect(list.status).toBe('ok');
    expect(list.data.people).toEqual([expect.objectContaining({ name: 'Anna Example', embeddings: 1 })]);
    const removed = await request('faces/remove', { name: 'anna example' });
    expect(removed.status, removed.error).toBe('ok');
    expect((await gallery()).people).toEqual([]);
    const again = await request('faces/remove', { name: 'Anna Example' });
    expect(again).toMatchObject({ status: 'error', data: { code: 'GALLERY_PERSON_UNKNOWN' } });
  });

  it('refuses unbounded or malformed requests with typed codes, writes nothing, and keeps running', async () => {
    const before = readFileSync(join(state, 'faces.gallery'));
    const photo = anna().toString('base64');
    const cases: [unknown, string][] = [
      [{ name: 'Bea', photos: Array.from({ length: 9 }, () => photo) }, 'REQUEST_INVALID'],
      [{ name: 'Bea', photos: ['@@not base64@@'] }, 'REQUEST_INVALID'],
      [{ name: 'Bea', photos: ['A'.repeat(6 * 1024 * 1024)] }, 'REQUEST_INVALID'],
      [{ name: 'Bea', photos: [] }, 'REQUEST_INVALID'],
      [{ name: 'a/b#', photos: [photo] }, 'GALLERY_NAME_INVALID'],
      [{ name: 'Bea', photos: [Buffer.from('nope').toString('base64')] }, 'ENROLMENT_FAILED'],
      [[1, 2], 'REQUEST_INVALID'],
    ];
    for (const [body, code] of cases) {
      const r = await request('faces/add', body);
      expect(r, JSON.stringify(body).slice(0, 80)).toMatchObject({ status: 'error', data: { code } });
      expect(r.error ?? '').not.toContain(photo.slice(0, 40));
    }
    expect(readFileSync(join(state, 'faces.gallery')).equals(before)).toBe(true);
    expect((await request('faces/list', {})).status).toBe('ok');
  });

  it('faces/merge: a gallery signed by `faces package` is merged (the board keeps its own people); an older one is refused', async () => {
    const model = { id: EMBEDDER_MANIFEST.id, dimensions: EMBEDDER_MANIFEST.embedding.dimensions };
    const unit = (i: number) => Float32Array.from({ length: model.dimensions }, (_, j) => (j === i ? 1 : 0));
    const site = join(dir, 'site.gallery');
    const key = await readGalleryKey(keyFile);
    const store = await GalleryStore.open({ path: site, key, model });
    const board = await request('faces/add', { name: 'Board Person', photos: [anna().toString('base64')] });
    expect(board.status, board.error).toBe('ok');
    const pack = async (out: string) => {
      const r = await runCli([
        'faces',
        'package',
        site,
        '--key',
        keyFile,
        '--sign-key',
        join(dir, 'signing.pem'),
        '--out',
        out,
      ]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(readFileSync(out, 'utf8')) as Record<string, string>;
    };
    await store.enrol('Cleo', [unit(0)]);
    const v1 = await pack(join(dir, 'v1.json'));
    await store.enrol('Dora', [unit(1)]);
    const v2 = await pack(join(dir, 'v2.json'));
    const merged = await request('faces/merge', v2);
    expect(merged.status, merged.error).toBe('ok');
    expect(merged.data).toMatchObject({ source_version: 2, signed_by: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect((await gallery()).people.map((p) => p.name)).toEqual(['Board Person', 'Cleo', 'Dora']);
    const rollback = await request('faces/merge', v1);
    expect(rollback).toMatchObject({ status: 'error', data: { code: 'GALLERY_INVALID' } });
    expect(rollback.error).toMatch(/already merged version 2/);
    // The fleet path: `faceedge fleet push-gallery` sends the next version to the boards it selects.
    await store.enrol('Erin', [unit(2)]);
    await pack(join(dir, 'v3.json'));
    const fleet = await runCli(
      ['fleet', 'push-gallery', join(dir, 'v3.json'), '--devices', TEST_DEVICE, '--mqtt', broker.url],
      { timeoutMs: 60_000 },
    );
    expect(fleet.code, fleet.stderr).toBe(0);
    expect(fleet.stdout).toMatch(new RegExp(`${TEST_DEVICE}\\s+merged`));
    expect((await gallery()).people.map((p) => p.name)).toEqual(['Board Person', 'Cleo', 'Dora', 'Erin']);
    const audits = probe.messages.filter((m) => m.topic === `${ROOT}/audit` && m.text.includes('faces/merge'));
    expect(audits.map((m) => (JSON.parse(m.text) as { outcome: string }).outcome)).toEqual([
      'accepted',
      'refused',
      'accepted',
    ]);
  });

  it('two enrolments at once are both kept: neither write loses the other’s person', async () => {
    const photo = anna().toString('base64');
    const [fay, gus] = await Promise.all([
      request('faces/add', { name: 'Fay', photos: [photo] }),
      request('faces/add', { name: 'Gus', photos: [photo] }),
    ]);
    expect([fay.status, gus.status], `${fay.error} ${gus.error}`).toEqual(['ok', 'ok']);
    expect(fay.data.version).not.toBe(gus.data.version);
    const names = (await gallery()).people.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['Fay', 'Gus']));
    // The same face under two names is flagged to whoever enrolled second.
    const second = fay.data.version > gus.data.version ? fay : gus;
    expect(second.data.photos[0].looks_like).toBeDefined();
  });
});
