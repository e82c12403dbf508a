import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFaceedgeError, type FaceedgeErrorCode } from '../../src/errors.js';
import { decodeGallery, encodeGallery } from '../../src/recognition/gallery-codec.js';
import { emptyGallery, withEnrolment, type GalleryModel } from '../../src/recognition/gallery-contents.js';
import { readGalleryKey, writeGalleryKey } from '../../src/recognition/gallery-key.js';
import { GalleryStore } from '../../src/recognition/gallery-store.js';

const MODEL: GalleryModel = { id: 'test-embed', dimensions: 8 };
const REPO_ROOT = join(import.meta.dirname, '../..');

/** A unit vector of MODEL's size from a seed (deterministic, distinct per seed). */
function unit(seed: number, dimensions = MODEL.dimensions): Float32Array {
  const v = new Float32Array(dimensions);
  let s = seed * 2654435761;
  for (let i = 0; i < dimensions; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v[i] = s / 2147483648 - 0.5;
  }
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

async function rejectsWith(promise: Promise<unknown> | (() => unknown), code: FaceedgeErrorCode): Promise<string> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    if (isFaceedgeError(err, code)) return err.message;
    throw err;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** Runs a TypeScript module in a child Node (through tsx); resolves with how it ended and its stderr. */
function runChild(script: string, args: string[]): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  const loader = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', loader, script, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ signal, stderr }));
  });
}

let dir: string;
let keyPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gallery-'));
  keyPath = join(dir, 'gallery.key');
  await writeGalleryKey(keyPath);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gallery file: round trip, encryption, integrity', () => {
  it.each([
    ['plain', false],
    ['encrypted', true],
  ])('%s: what is written reads back bit for bit, version increasing on every change', async (_, encrypted) => {
    const key = encrypted ? await readGalleryKey(keyPath) : null;
    const path = join(dir, 'g.gallery');
    const store = await GalleryStore.open({ path, key, model: MODEL });
    await store.enrol('Alice', [unit(1), unit(2)]);
    await store.enrol('Bob', [unit(3)]);
    await store.enrol('alice', [unit(4)]); // same person, another case
    await store.remove('Bob');
    const back = await GalleryStore.open({ path, key, model: MODEL });
    expect(back.contents.version).toBe(4);
    expect(back.contents.people.map((p) => p.name)).toEqual(['Alice']);
    expect(back.contents.people[0].embeddings).toEqual([unit(1), unit(2), unit(4)]);
    expect(back.contents.tombstones).toHaveLength(1);
    expect(back.contents.galleryId).toBe(store.contents.galleryId);
    const header = (await readFile(path, 'utf8')).split('\n')[0];
    expect(JSON.parse(header)).toMatchObject({
      encryption: encrypted ? 'aes-256-gcm' : 'none',
      version: 4,
      model: MODEL,
    });
  });

  it('encrypted: a fresh nonce on every write (same contents, different bytes); no name in the file', async () => {
    const key = await readGalleryKey(keyPath);
    const gallery = withEnrolment(emptyGallery(MODEL), 'Alice', [unit(1)]);
    const a = encodeGallery(gallery, key);
    const b = encodeGallery(gallery, key);
    expect(a.equals(b)).toBe(false);
    expect(a.includes('Alice')).toBe(false);
    expect(decodeGallery(a, key, 'a')).toEqual(decodeGallery(b, key, 'b'));
  });

  it('a wrong key, or any altered byte (header, payload, tag), is one clear error and never a partial read', async () => {
    const key = await readGalleryKey(keyPath);
    const other = randomBytes(32);
    const plain = encodeGallery(withEnrolment(emptyGallery(MODEL), 'Alice', [unit(1), unit(2)]), null);
    const sealed = encodeGallery(withEnrolment(emptyGallery(MODEL), 'Alice', [unit(1), unit(2)]), key);
    await rejectsWith(() => decodeGallery(sealed, other, 'g'), 'GALLERY_AUTH_FAILED');
    const headerEnd = sealed.indexOf(0x0a);
    for (const [bytes, k] of [
      [sealed, key],
      [plain, null],
    ] as const) {
      for (const at of [headerEnd + 1, headerEnd + 10, Math.floor(bytes.length / 2), bytes.length - 1]) {
        const altered = Buffer.from(bytes);
        altered[at] ^= 0x01;
        await rejectsWith(() => decodeGallery(altered, k, 'g'), 'GALLERY_AUTH_FAILED');
      }
      // The header is authenticated too: a version rolled back by hand is caught.
      const rolledBack = Buffer.from(bytes.toString('latin1').replace('"version":1', '"version":0'), 'latin1');
      expect(rolledBack.equals(bytes)).toBe(false);
      await rejectsWith(() => decodeGallery(rolledBack, k, 'g'), 'GALLERY_AUTH_FAILED');
      await rejectsWith(() => decodeGallery(bytes.subarray(0, bytes.length - 5), k, 'g'), 'GALLERY_AUTH_FAILED');
    }
    expect(await rejectsWith(() => decodeGallery(sealed, null, 'g'), 'GALLERY_KEY_INVALID')).toMatch(/encrypted/);
    expect(await rejectsWith(() => decodeGallery(plain, key, 'g'), 'GALLERY_KEY_INVALID')).toMatch(/plain/);
    await rejectsWith(() => decodeGallery(Buffer.from('hello\n'), null, 'g'), 'GALLERY_INVALID');
  });

  it('a gallery of another model is refused, naming both models', async () => {
    const path = join(dir, 'g.gallery');
    await (await GalleryStore.open({ path, key: null, model: MODEL })).enrol('Alice', [unit(1)]);
    const msg = await rejectsWith(
      GalleryStore.open({ path, key: null, model: { id: 'other-embed', dimensions: 8 } }),
      'GALLERY_INVALID',
    );
    expect(msg).toMatch(/test-embed.*other-embed/);
    await rejectsWith(
      GalleryStore.open({ path, key: null, model: { id: 'test-embed', dimensions: 16 } }),
      'GALLERY_INVALID',
    );
    const store = await GalleryStore.open({ path, key: null, model: MODEL });
    await rejectsWith(store.enrol('Bob', [unit(1, 16)]), 'GALLERY_INVALID');
    await rejectsWith(store.enrol('Bob', [new Float32Array(8).fill(1)]), 'GALLERY_INVALID'); // not unit length
  });
});

describe('merging stores', () => {
  it('a workstation’s plain gallery merges into the board’s encrypted one; its removals follow', async () => {
    const key = await readGalleryKey(keyPath);
    const board = await GalleryStore.open({ path: join(dir, 'board.gallery'), key, model: MODEL });
    await board.enrol('Alice', [unit(1)]);
    await board.enrol('Bob', [unit(2)]);
    const desk = await GalleryStore.open({ path: join(dir, 'desk.gallery'), key: null, model: MODEL });
    await desk.enrol('Carol', [unit(3)]);
    await desk.enrol('Bob', [unit(4)]);
    await desk.remove('Bob'); // removed on the desk after the board enrolled him
    const merged = await board.merge(desk.contents);
    expect(merged.people.map((p) => p.name)).toEqual(['Alice', 'Carol']);
    const back = await GalleryStore.open({ path: join(dir, 'board.gallery'), key, model: MODEL });
    expect(back.list().map((p) => p.name)).toEqual(['Alice', 'Carol']);
    expect(back.contents.version).toBe(4); // above both (board 2, desk 3)
    expect((await readFile(join(dir, 'board.gallery'))).includes('Carol')).toBe(false); // still encrypted
  });
});

describe('gallery key file', () => {
  it('refuses a key readable by group or others, a wrong size, a missing file; accepts 64 hex digits', async () => {
    expect((await readGalleryKey(keyPath)).length).toBe(32);
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    await chmod(keyPath, 0o640);
    expect(await rejectsWith(readGalleryKey(keyPath), 'GALLERY_KEY_INVALID')).toMatch(/mode 640/);
    await chmod(keyPath, 0o604);
    await rejectsWith(readGalleryKey(keyPath), 'GALLERY_KEY_INVALID');
    const short = join(dir, 'short.key');
    await writeFile(short, randomBytes(16), { mode: 0o600 });
    await rejectsWith(readGalleryKey(short), 'GALLERY_KEY_INVALID');
    const hex = join(dir, 'hex.key');
    const raw = randomBytes(32);
    await writeFile(hex, `${raw.toString('hex')}\n`, { mode: 0o600 });
    expect((await readGalleryKey(hex)).equals(raw)).toBe(true);
    await rejectsWith(readGalleryKey(join(dir, 'absent.key')), 'GALLERY_KEY_INVALID');
    expect(await rejectsWith(writeGalleryKey(hex), 'GALLERY_KEY_INVALID')).toMatch(/never overwritten/);
  });
});

describe('gallery bounds', () => {
  it('names: bounded length and characters, each refusal clear', async () => {
    const store = await GalleryStore.open({ path: join(dir, 'g.gallery'), key: null, model: MODEL });
    for (const bad of ['', '   ', 'a'.repeat(65), 'alice/bob', 'door/+/#', 'a\nb', 'x  y', '<script>', '-lead']) {
      await rejectsWith(store.enrol(bad, [unit(1)]), 'GALLERY_NAME_INVALID');
    }
    for (const good of ['Zoë Ångström', "O'Brien", 'Jean-Luc', 'badge_0042', '李小龙', 'a'.repeat(64)]) {
      await store.enrol(good, [unit(1)]);
    }
    expect(store.list()).toHaveLength(6);
  });

  it('people, embeddings per person and file size each have their own error', async () => {
    const path = join(dir, 'g.gallery');
    const limits = { maxPeople: 2, maxEmbeddingsPerPerson: 3, maxFileBytes: 100_000 };
    const store = await GalleryStore.open({ path, key: null, model: MODEL, limits });
    await store.enrol('a', [unit(1)]);
    await store.enrol('b', [unit(2), unit(3), unit(4)]);
    expect(await rejectsWith(store.enrol('c', [unit(5)]), 'GALLERY_LIMIT')).toMatch(/people/);
    expect(await rejectsWith(store.enrol('b', [unit(5)]), 'GALLERY_LIMIT')).toMatch(/embeddings/);
    const size = (await stat(path)).size;
    const tiny = await GalleryStore.open({ path, key: null, model: MODEL, limits: { maxFileBytes: size + 100 } });
    expect(await rejectsWith(tiny.enrol('a', [unit(6), unit(7), unit(8), unit(9), unit(10)]), 'GALLERY_LIMIT')).toMatch(
      /bytes/,
    );
    // A refused change leaves the file as it was.
    expect((await GalleryStore.open({ path, key: null, model: MODEL })).list().map((p) => p.embeddings)).toEqual([
      1, 3,
    ]);
    await rejectsWith(
      GalleryStore.open({ path, key: null, model: MODEL, limits: { maxFileBytes: 100 } }),
      'GALLERY_LIMIT',
    );
  });
});

describe('gallery writes', () => {
  it('concurrent enrolments through one store: none is lost, versions count every change', async () => {
    const path = join(dir, 'g.gallery');
    const store = await GalleryStore.open({ path, key: await readGalleryKey(keyPath), model: MODEL });
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.enrol(`person${i % 4}`, [unit(100 + i)])));
    const back = await GalleryStore.open({ path, key: await readGalleryKey(keyPath), model: MODEL });
    expect(back.contents.version).toBe(12);
    expect(back.list().map((p) => [p.name, p.embeddings])).toEqual([
      ['person0', 3],
      ['person1', 3],
      ['person2', 3],
      ['person3', 3],
    ]);
  });

  it('the file is mode 0600 whatever the umask and the mode of the file it replaces', async () => {
    const path = join(dir, 'g.gallery');
    await writeFile(path, 'x', { mode: 0o644 });
    await rm(path);
    const old = process.umask(0);
    try {
      const store = await GalleryStore.open({ path, key: null, model: MODEL });
      await store.enrol('Alice', [unit(1)]);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      await chmod(path, 0o644);
      await store.enrol('Bob', [unit(2)]);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('remove erases every trace: no name, no embedding value in the file, no temporary copy left', async () => {
    const path = join(dir, 'g.gallery');
    const store = await GalleryStore.open({ path, key: null, model: MODEL });
    const secret = [unit(7), unit(8)];
    await store.enrol('Mallory Secretname', secret);
    await store.enrol('Alice', [unit(1)]);
    const before = await readFile(path);
    const bytesOf = (e: Float32Array) => Buffer.from(e.buffer, e.byteOffset, e.byteLength);
    // The search can find them: they are there before the removal.
    expect(before.includes('Mallory Secretname')).toBe(true);
    expect(before.includes(bytesOf(secret[0]))).toBe(true);
    // A crash's leftover copy of the gallery before the removal (a dead writer's temporary file).
    const orphan = join(dir, '.g.gallery.tmp-999999999-abc');
    await writeFile(orphan, before);
    await store.remove('mallory secretname');
    const after = await readFile(path);
    expect(after.includes('Mallory Secretname')).toBe(false);
    expect(after.includes(Buffer.from('mallory secretname'))).toBe(false);
    for (const e of secret) {
      expect(after.includes(bytesOf(e))).toBe(false);
      // Nor any single value of it (4 bytes each, an accidental match elsewhere would be a 2^-32 chance).
      for (let i = 0; i < e.length; i++) expect(after.includes(bytesOf(e.subarray(i, i + 1)))).toBe(false);
    }
    expect(await readdir(dir)).toEqual(['g.gallery', 'gallery.key']);
    expect((await GalleryStore.open({ path, key: null, model: MODEL })).list().map((p) => p.name)).toEqual(['Alice']);
    await rejectsWith(store.remove('Mallory Secretname'), 'GALLERY_PERSON_UNKNOWN');
  });

  it('a write that fails between the temporary file and the rename leaves the old gallery whole and no temporary file', async () => {
    const path = join(dir, 'g.gallery');
    const store = await GalleryStore.open({ path, key: null, model: MODEL });
    await store.enrol('Alice', [unit(1)]);
    const failing = await GalleryStore.open({
      path,
      key: null,
      model: MODEL,
      hooks: {
        beforeRename: () => {
          throw new Error('disk gone');
        },
      },
    });
    await rejectsWith(failing.enrol('Bob', [unit(2)]), 'GALLERY_INVALID');
    const back = await GalleryStore.open({ path, key: null, model: MODEL });
    expect(back.list().map((p) => p.name)).toEqual(['Alice']);
    expect(await readdir(dir)).toEqual(['g.gallery', 'gallery.key']);
  });

  it('two processes enrolling into one gallery at once: the lock file keeps every enrolment', async () => {
    const path = join(dir, 'g.gallery');
    const script = join(dir, 'enrol.mts');
    const storeUrl = pathToFileURL(join(REPO_ROOT, 'src/recognition/gallery-store.ts')).href;
    await writeFile(
      script,
      `import { GalleryStore } from '${storeUrl}';
       const [prefix, start] = process.argv.slice(2);
       // Both children start enrolling at the same instant, whenever each finished loading.
       await new Promise((resolve) => setTimeout(resolve, Number(start) - Date.now()));
       for (let i = 0; i < 40; i++) {
         const store = await GalleryStore.open({ path: ${JSON.stringify(path)}, key: null, model: ${JSON.stringify(MODEL)} });
         const e = new Float32Array(8); e[i % 8] = 1;
         await store.enrol(prefix + i, [e]);
       }`,
    );
    const start = String(Date.now() + 4000);
    const results = await Promise.all(['a', 'b'].map((prefix) => runChild(script, [prefix, start])));
    expect(results).toEqual([
      { signal: null, stderr: '' },
      { signal: null, stderr: '' },
    ]);
    const back = await GalleryStore.open({ path, key: null, model: MODEL });
    expect(back.list()).toHaveLength(80);
    expect(back.contents.version).toBe(80);
    expect(await readdir(dir)).not.toContain('g.gallery.lock');
  }, 120_000); // two child processes start, load the store and wait 4 s for a common start

  it('a process killed between write and rename: the old gallery reads whole; the next write removes the orphan', async () => {
    const path = join(dir, 'g.gallery');
    const key = await readGalleryKey(keyPath);
    const store = await GalleryStore.open({ path, key, model: MODEL });
    await store.enrol('Alice', [unit(1)]);
    const script = join(dir, 'crash.mts');
    const storeUrl = pathToFileURL(join(REPO_ROOT, 'src/recognition/gallery-store.ts')).href;
    const keyUrl = pathToFileURL(join(REPO_ROOT, 'src/recognition/gallery-key.ts')).href;
    await writeFile(
      script,
      `import { GalleryStore } from '${storeUrl}';
       import { readGalleryKey } from '${keyUrl}';
       const key = await readGalleryKey(${JSON.stringify(keyPath)});
       const store = await GalleryStore.open({ path: ${JSON.stringify(path)}, key, model: ${JSON.stringify(MODEL)},
         hooks: { beforeRename: () => { process.kill(process.pid, 'SIGKILL'); } } });
       const e = new Float32Array(8); e[0] = 1;
       await store.enrol('Bob', [e]);`,
    );
    const { signal, stderr } = await runChild(script, []);
    expect({ signal, stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    const names = await readdir(dir);
    expect(names.filter((n) => n.startsWith('.g.gallery.tmp-'))).toHaveLength(1); // the crash's orphan
    const back = await GalleryStore.open({ path, key, model: MODEL });
    expect(back.list().map((p) => p.name)).toEqual(['Alice']);
    await back.enrol('Carol', [unit(3)]);
    expect((await readdir(dir)).sort()).toEqual(['crash.mts', 'g.gallery', 'gallery.key']); // lock taken over, then released
  });
});
