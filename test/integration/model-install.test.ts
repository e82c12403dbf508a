/**
 * Safe model install on the board: a good package swaps atomically, every bad one (corrupt file,
 * wrong or missing signature, wrong input shape, failing self-test, hostile manifest) is refused
 * with a typed error while the old model stays current and intact; rollback restores. Real TFLite
 * interpreters, real packages, real ed25519 keys.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError, type FaceedgeErrorCode } from '../../src/errors.js';
import { installModel, rollbackModel, type VerifyOptions } from '../../src/model-push/install-model.js';
import { ModelStore } from '../../src/model-push/model-store.js';
import {
  BLAZEFACE,
  copyModelPackage,
  modelPackageSource,
  NO_MODEL_PACKAGE_REASON,
  readManifest,
  sha256,
  signPackage,
  writeManifest,
} from '../helpers/model-package-fixture.js';
import { runCli } from '../helpers/run-cli.js';

const SOURCE = modelPackageSource();
const work = mkdtempSync(join(tmpdir(), 'faceedge-model-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(work, `${name}-${n++}`);

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const trust: VerifyOptions = { trustedKeys: [publicKey] };

/** A signed copy of the source package, optionally renamed and edited before signing. */
function signedPackage(id?: string, edit?: (dir: string) => void): string {
  const dir = copyModelPackage(SOURCE!, fresh('pkg'), id);
  edit?.(dir);
  signPackage(dir, privateKey);
  return dir;
}

async function expectRefused(
  store: ModelStore,
  pkg: string,
  code: FaceedgeErrorCode,
  message: RegExp,
  options = trust,
): Promise<void> {
  const before = await store.current();
  const beforeFiles = before ? readdirSync(before.dir).map((f) => [f, sha256(join(before.dir, f))]) : [];
  const err = await installModel(store, pkg, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(isFaceedgeError(err, code), String(err)).toBe(true);
  expect((err as Error).message).toMatch(message);
  // The old model is still current, byte for byte, and nothing is left half-installed.
  const after = await store.current();
  expect(after?.name).toBe(before?.name);
  if (after) expect(readdirSync(after.dir).map((f) => [f, sha256(join(after.dir, f))])).toEqual(beforeFiles);
  expect(readdirSync(join(store.root, '.staging')).filter((f) => !f.startsWith('old-'))).toEqual([]);
  expect(existsSync(join(store.root, '.lock'))).toBe(false);
}

describe.skipIf(!SOURCE)(`model install (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  let store: ModelStore;
  let v1: string;

  beforeAll(async () => {
    store = new ModelStore(fresh('models'));
    v1 = (await installModel(store, signedPackage('faceedge-gender-v1'), trust)).activation.current.name;
  });

  it('installs a signed package: versioned folder, `current` link, self-test of every file', async () => {
    const cur = (await store.current())!;
    expect(cur.name).toBe(v1);
    expect(readlinkSync(join(store.root, 'current'))).toBe(`versions/${v1}`);
    expect(cur.modelPath).toBe(join(store.root, 'versions', v1, readManifest(SOURCE!).files.int8.path));
    expect(await store.previous()).toBeNull();
  });

  it('refuses a corrupted model file', async () => {
    const pkg = signedPackage('corrupt', (dir) => {
      const file = join(dir, readManifest(dir).files.int8.path);
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(file, bytes);
    });
    await expectRefused(store, pkg, 'MODEL_CHECKSUM_MISMATCH', /sha256 .* does not match the manifest/);
  });

  it('refuses a truncated model file', async () => {
    const pkg = signedPackage('short', (dir) => {
      const file = join(dir, readManifest(dir).files.float32.path);
      writeFileSync(file, readFileSync(file).subarray(0, 1000));
    });
    await expectRefused(store, pkg, 'MODEL_CHECKSUM_MISMATCH', /1000 bytes, the manifest says/);
  });

  it('refuses a package signed by a key the board does not trust', async () => {
    const pkg = copyModelPackage(SOURCE!, fresh('pkg'), 'stranger');
    signPackage(pkg, stranger.privateKey);
    await expectRefused(
      store,
      pkg,
      'MODEL_SIGNATURE_INVALID',
      /signed by key [0-9a-f]+, which this board does not trust \(trusted: [0-9a-f]+\)/,
    );
  });

  it('refuses a manifest edited after signing (e.g. a swapped sha256)', async () => {
    const pkg = signedPackage('tampered');
    const m = readManifest(pkg);
    m.metrics = { val: { accuracy: 0.99 } };
    writeManifest(pkg, m);
    await expectRefused(
      store,
      pkg,
      'MODEL_SIGNATURE_INVALID',
      /manifest.json was changed after it was signed: its signature by the trusted key [0-9a-f]+ does not match/,
    );
  });

  it('refuses an unsigned package unless unsigned installs are allowed', async () => {
    const pkg = copyModelPackage(SOURCE!, fresh('pkg'), 'unsigned');
    await expectRefused(store, pkg, 'MODEL_SIGNATURE_INVALID', /no manifest\.sig/);
  });

  it('refuses a model with the wrong input shape (BlazeFace, 128x128) in its own interpreter', async () => {
    const pkg = signedPackage('blazeface', (dir) => {
      const m = readManifest(dir);
      for (const f of Object.values(m.files)) rmSync(join(dir, f.path));
      copyFileSync(BLAZEFACE, join(dir, 'face_detection_short_range.tflite'));
      m.files = {
        float32: {
          path: 'face_detection_short_range.tflite',
          dtype: 'float32',
          sha256: sha256(BLAZEFACE),
          bytes: statSync(BLAZEFACE).size,
        },
      };
      writeManifest(dir, m);
    });
    // BlazeFace takes 1x128x128x3 and returns boxes and scores: two outputs, not one probability.
    await expectRefused(
      store,
      pkg,
      'MODEL_SHAPE_MISMATCH',
      /face_detection_short_range\.tflite: expected 1 input and 1 output, found 1 and 2/,
    );
  });

  it('refuses a classifier whose input is not the size its manifest declares', async () => {
    const pkg = signedPackage('input-size', (dir) => {
      const m = readManifest(dir) as ReturnType<typeof readManifest> & { input: { width: number; height: number } };
      m.input = { ...m.input, width: 128, height: 128 };
      writeManifest(dir, m);
    });
    await expectRefused(store, pkg, 'MODEL_SHAPE_MISMATCH', /input is 1x64x64x3, expected 1x128x128x3/);
  });

  it('refuses a model that fails its golden self-test', async () => {
    const pkg = signedPackage('selftest', (dir) => {
      const m = readManifest(dir);
      m.selftest = (m.selftest as Array<Record<string, number>>).map((c) => ({
        ...c,
        expected_probability: 1 - c.expected_probability,
        expected_int8_probability: 1 - c.expected_int8_probability,
      }));
      writeManifest(dir, m);
    });
    await expectRefused(store, pkg, 'MODEL_SELFTEST_FAILED', /self-test case 0 gave p=/);
  });

  it('refuses a manifest that points outside the package folder', async () => {
    const pkg = signedPackage('escape', (dir) => {
      const m = readManifest(dir);
      m.files.int8.path = '../../etc/passwd';
      writeManifest(dir, m);
    });
    await expectRefused(store, pkg, 'MODEL_INVALID', /not a plain file name/);
  });

  it('swaps in a good new model, keeps the old as previous, and rollback toggles between them', async () => {
    const r = await installModel(store, signedPackage('faceedge-gender-v2'), trust);
    const v2 = r.activation.current.name;
    expect(v2).toMatch(/^faceedge-gender-v2-[0-9a-f]{12}$/);
    expect(r.activation.previous?.name).toBe(v1);
    expect(r.signedBy).toMatch(/^[0-9a-f]{16}$/);
    expect(r.selfTests).toHaveLength(Object.keys(readManifest(SOURCE!).files).length);

    const back = await rollbackModel(store);
    expect(back.current.name).toBe(v1);
    expect(back.previous?.name).toBe(v2);
    expect(readlinkSync(join(store.root, 'current'))).toBe(`versions/${v1}`);
    const forward = await rollbackModel(store);
    expect(forward.current.name).toBe(v2);
    // Only current and previous are kept.
    expect((await store.versions()).sort()).toEqual([v1, v2].sort());

    const again = await installModel(store, signedPackage('faceedge-gender-v2'), trust);
    expect(again.activation.unchanged).toBe(true);
  });

  it('rollback with no previous model is a typed error', async () => {
    const empty = new ModelStore(fresh('models'));
    await installModel(empty, signedPackage('only'), trust);
    const err = await rollbackModel(empty).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFaceedgeError(err, 'MODEL_NO_PREVIOUS')).toBe(true);
  });
});

describe.skipIf(!SOURCE)('faceedge model keygen / sign / install / rollback (CLI)', () => {
  it('signs with a generated key, installs a tarball, refuses a bad one with exit 1 and JSON, rolls back', async () => {
    const dir = fresh('cli');
    mkdirSync(dir);
    const prefix = join(dir, 'signing');
    expect((await runCli(['model', 'keygen', '--out', prefix])).code).toBe(0);
    expect(statSync(`${prefix}.key.pem`).mode & 0o777).toBe(0o600);
    expect((await runCli(['model', 'keygen', '--out', prefix])).stderr).toMatch(/already exists/);

    const models = join(dir, 'models');
    const key = ['--public-key', `${prefix}.pub.pem`, '--models-dir', models];
    const a = copyModelPackage(SOURCE!, join(dir, 'a'), 'cli-a');
    const signed = await runCli(['model', 'sign', a, '--key', `${prefix}.key.pem`]);
    expect(signed.code, signed.stderr).toBe(0);
    const first = await runCli(['model', 'install', a, ...key, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ status: 'ok', model: { id: 'cli-a' }, previous: null });

    // A tarball with one top-level folder, as a release pipeline would ship it.
    const b = copyModelPackage(SOURCE!, join(dir, 'pkg-b'), 'cli-b');
    expect((await runCli(['model', 'sign', b, '--key', `${prefix}.key.pem`])).code).toBe(0);
    expect(spawnSync('tar', ['-czf', join(dir, 'b.tar.gz'), '-C', dir, 'pkg-b']).status).toBe(0);
    const second = await runCli(['model', 'install', join(dir, 'b.tar.gz'), ...key]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/installed cli-b-[0-9a-f]{12} \(previous: cli-a-/);

    const c = copyModelPackage(SOURCE!, join(dir, 'c'), 'cli-c'); // never signed
    const refused = await runCli(['model', 'install', c, ...key, '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ status: 'error', error: { code: 'MODEL_SIGNATURE_INVALID' } });
    const plain = await runCli(['model', 'install', c, ...key]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^faceedge: the package has no manifest\.sig\n  hint: sign it/);

    const rolled = await runCli(['model', 'rollback', '--models-dir', models]);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stdout).toMatch(/^current: cli-a-[0-9a-f]{12} \(previous: cli-b-/);
    const list = await runCli(['model', 'list', '--models-dir', models]);
    expect(list.stdout).toMatch(/current: {2}cli-a-/);
  });
});
