/**
 * The board's end of a gallery push: a signed package is verified against the trusted keys, refused for
 * another embedding model, a tampered file, an unknown signer or an older version of a source already
 * merged (the anti-rollback floor), and otherwise merged into the board's gallery, never replacing it.
 * Real files, real AES-256-GCM galleries, real Ed25519 signatures; embeddings are synthetic unit vectors.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { makeGalleryPackage } from '../../src/model-push/gallery-package.js';
import { GALLERY_PUSH_FLOOR_FILE, GalleryPushReceiver } from '../../src/model-push/gallery-push.js';
import { generateSigningKeyPair, loadPrivateKey, loadPublicKey } from '../../src/model-push/model-signature.js';
import { BoardGallery } from '../../src/recognition/board-gallery.js';
import type { GalleryContents } from '../../src/recognition/gallery-contents.js';
import { GalleryStore } from '../../src/recognition/gallery-store.js';

const MODEL = { id: 'faceedge-face-embed', dimensions: 4 };
const unit = (i: number) => Float32Array.from({ length: 4 }, (_, j) => (j === i ? 1 : 0));

describe('gallery push: verify, merge, anti-rollback floor', () => {
  let dir: string;
  const siteKey = randomBytes(32);
  const signer = generateSigningKeyPair();
  const stranger = generateSigningKeyPair();
  let receiver: GalleryPushReceiver;
  let changes: GalleryContents[];
  let board: BoardGallery;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-gallery-push-'));
    changes = [];
    board = new BoardGallery({
      path: join(dir, 'board.gallery'),
      key: siteKey,
      tools: () => Promise.reject(new Error('no photo is looked at in a push')),
      onChange: (c) => changes.push(c),
    });
    // The board's own enrolment, made on the board.
    await (
      await GalleryStore.open({ path: join(dir, 'board.gallery'), key: siteKey, model: MODEL })
    ).enrol('Bob', [unit(1)]);
    receiver = new GalleryPushReceiver({
      floorFile: join(dir, GALLERY_PUSH_FLOOR_FILE),
      trustedKeys: () => Promise.resolve([loadPublicKey(signer.publicKeyPem)]),
      key: siteKey,
      model: () => Promise.resolve(MODEL),
      merge: (other, model) => board.merge(other, model),
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The workstation's gallery, changed by `change`, packaged and signed by `by`. */
  async function workstation(change: (s: GalleryStore) => Promise<unknown>, by = signer, model = MODEL) {
    const path = join(dir, 'workstation.gallery');
    await change(await GalleryStore.open({ path, key: siteKey, model }));
    return makeGalleryPackage(readFileSync(path), siteKey, loadPrivateKey(by.privateKeyPem));
  }
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => (isFaceedgeError(e) ? `${e.code}: ${e.message}` : String(e)),
    );
  const boardPeople = async () =>
    (await GalleryStore.open({ path: join(dir, 'board.gallery'), key: siteKey })).contents.people.map((p) => p.name);

  it('merges a signed gallery into the board’s (its own people stay), tells the change, and records the floor', async () => {
    const pkg = await workstation((s) => s.enrol('Alice', [unit(0)]));
    const out = await receiver.receive(pkg);
    expect(out).toMatchObject({ source_version: 1, signed_by: signer.keyId, people: 2 });
    expect(await boardPeople()).toEqual(['Alice', 'Bob']);
    expect(changes.at(-1)?.people.map((p) => p.name)).toEqual(['Alice', 'Bob']);
    expect(JSON.parse(readFileSync(join(dir, GALLERY_PUSH_FLOOR_FILE), 'utf8'))).toEqual({ [out.source]: 1 });
    expect(statSync(join(dir, GALLERY_PUSH_FLOOR_FILE)).mode & 0o777).toBe(0o600);
    // The same package again: accepted, nothing changes (merging is idempotent).
    expect((await receiver.receive(pkg)).people).toBe(2);
  });

  it('a removal pushed later removes the person on the board; the older package is then refused (rollback)', async () => {
    const v1 = await workstation((s) => s.enrol('Alice', [unit(0)]));
    await receiver.receive(v1);
    const v2 = await workstation((s) => s.remove('Alice'));
    await receiver.receive(v2);
    expect(await boardPeople()).toEqual(['Bob']);
    expect(await refusal(receiver.receive(v1))).toMatch(/^GALLERY_INVALID: .*version 1 .* already merged version 2/);
    expect(await boardPeople()).toEqual(['Bob']);
  });

  it('refuses an unknown signer, a tampered gallery or manifest, another model; the board’s gallery is unchanged', async () => {
    const before = readFileSync(join(dir, 'board.gallery'));
    const good = await workstation((s) => s.enrol('Alice', [unit(0)]));
    expect(await refusal(receiver.receive(await workstation(() => Promise.resolve(), stranger)))).toMatch(
      /^MODEL_SIGNATURE_INVALID: .*not trust/,
    );
    const bytes = Buffer.from(good.gallery, 'base64');
    bytes[bytes.length - 5] ^= 1;
    expect(await refusal(receiver.receive({ ...good, gallery: bytes.toString('base64') }))).toMatch(
      /^GALLERY_INVALID: .*sha256/,
    );
    const manifest = JSON.parse(Buffer.from(good.manifest, 'base64').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...manifest, version: 99 })).toString('base64');
    expect(await refusal(receiver.receive({ ...good, manifest: forged }))).toMatch(/^MODEL_SIGNATURE_INVALID/);
    rmSync(join(dir, 'workstation.gallery'));
    const other = await workstation((s) => s.enrol('Eve', [unit(2)]), signer, {
      id: 'another-embedder',
      dimensions: 4,
    });
    expect(await refusal(receiver.receive(other))).toMatch(/^GALLERY_INVALID: .*another-embedder/);
    expect(await refusal(receiver.receive({ manifest: 1 }))).toMatch(/^REQUEST_INVALID/);
    expect(readFileSync(join(dir, 'board.gallery')).equals(before)).toBe(true);
  });

  it('two pushes at once are taken one after the other: both merged, the floor holds the newer', async () => {
    const v1 = await workstation((s) => s.enrol('Alice', [unit(0)]));
    const v2 = await workstation((s) => s.enrol('Carol', [unit(3)]));
    const outs = await Promise.all([receiver.receive(v1), receiver.receive(v2)]);
    expect(outs.map((o) => o.source_version)).toEqual([1, 2]);
    expect(JSON.parse(readFileSync(join(dir, GALLERY_PUSH_FLOOR_FILE), 'utf8'))).toEqual({ [outs[0].source]: 2 });
    expect(await boardPeople()).toEqual(['Alice', 'Bob', 'Carol']);
    // In the other order the older one, checked after the newer was merged, is a rollback.
    const late = await Promise.allSettled([receiver.receive(v2), receiver.receive(v1)]);
    expect(late.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });

  it('a damaged floor file refuses every push with GALLERY_INVALID (not JSON, or a version that is not a number)', async () => {
    const v1 = await workstation((s) => s.enrol('Alice', [unit(0)]));
    await receiver.receive(v1);
    const v2 = await workstation((s) => s.remove('Alice'));
    await receiver.receive(v2);
    const floorFile = join(dir, GALLERY_PUSH_FLOOR_FILE);
    const source = Object.keys(JSON.parse(readFileSync(floorFile, 'utf8')) as object)[0];
    writeFileSync(floorFile, '{"broken');
    expect(await refusal(receiver.receive(v1))).toMatch(/^GALLERY_INVALID: .*damaged/);
    // A string compares false with `<`: read as a floor it would let the older v1 (Alice back) through.
    writeFileSync(floorFile, JSON.stringify({ [source]: '2' }));
    expect(await refusal(receiver.receive(v1))).toMatch(/^GALLERY_INVALID: .*damaged/);
    expect(await boardPeople()).toEqual(['Bob']);
  });

  it('the floor is raised before the merge: a failed merge leaves no gallery merged under an old floor', async () => {
    const failing = new GalleryPushReceiver({
      floorFile: join(dir, GALLERY_PUSH_FLOOR_FILE),
      trustedKeys: () => Promise.resolve([loadPublicKey(signer.publicKeyPem)]),
      key: siteKey,
      model: () => Promise.resolve(MODEL),
      merge: () => Promise.reject(new Error('disk full')),
    });
    const v1 = await workstation((s) => s.enrol('Alice', [unit(0)]));
    const v2 = await workstation((s) => s.remove('Alice'));
    await receiver.receive(v1);
    expect(await refusal(failing.receive(v2))).toMatch(/disk full/);
    expect(JSON.parse(readFileSync(join(dir, GALLERY_PUSH_FLOOR_FILE), 'utf8'))).toEqual({
      [packageSource(v2)]: 2,
    });
    // The retry of the same version is accepted; only the older one is refused.
    expect((await receiver.receive(v2)).source_version).toBe(2);
    expect(await refusal(receiver.receive(v1))).toMatch(/^GALLERY_INVALID: .*already merged version 2/);
  });
});

/** The source gallery id in a package's manifest. */
function packageSource(pkg: { manifest: string }): string {
  return (JSON.parse(Buffer.from(pkg.manifest, 'base64').toString()) as { gallery_id: string }).gallery_id;
}
