/**
 * The gallery file watcher (src/recognition/gallery-file-watcher.ts): a change made by another store on the
 * same file (as `faces remove` beside the daemon makes it) is seen within a bounded time, through fs.watch
 * and through the stat fallback alone; an unchanged file is not read again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GalleryContents } from '../../src/recognition/gallery-contents.js';
import { GalleryFileWatcher, isNewerGallery } from '../../src/recognition/gallery-file-watcher.js';
import { GalleryStore } from '../../src/recognition/gallery-store.js';

const MODEL = { id: 'stand-in', dimensions: 4 };
const axis = (i: number) => Float32Array.from({ length: 4 }, (_, k) => (k === i ? 1 : 0));

let dir: string;
let path: string;
let watcher: GalleryFileWatcher | null = null;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gallery-watch-'));
  path = join(dir, 'faces.gallery');
});
afterEach(async () => {
  await watcher?.stop();
  watcher = null;
  await rm(dir, { recursive: true, force: true });
});

const open = () => GalleryStore.open({ path, key: null, model: MODEL });

async function watching(pollMs: number, debounceMs = 50) {
  const store = await open();
  await store.enrol('alice', [axis(1)]);
  const start = await store.enrol('bob', [axis(2)]);
  const seen: GalleryContents[] = [];
  const errors: unknown[] = [];
  watcher = new GalleryFileWatcher({
    path,
    read: async () => (await open()).contents,
    onChange: (c) => seen.push(c),
    onError: (e) => errors.push(e),
    pollMs,
    debounceMs,
  });
  await watcher.start();
  return { seen, errors, start };
}

async function within(ms: number, done: () => boolean): Promise<number> {
  const started = Date.now();
  while (!done() && Date.now() - started < ms) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - started;
}

describe('GalleryFileWatcher', () => {
  it('sees a removal made by another store on the file, once', async () => {
    const { seen, errors, start } = await watching(60_000);
    await (await open()).remove('bob'); // another process's `faces remove`
    await within(5_000, () => seen.length > 0);
    expect(seen.map((c) => c.people.map((p) => p.name))).toEqual([['alice']]);
    expect(seen[0].version).toBeGreaterThan(start.version);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('the stat fallback alone sees it too (no fs.watch event needed)', async () => {
    const { seen } = await watching(100, 60_000); // folder events wait a minute: only the poll can see it
    await (await open()).remove('alice');
    const ms = await within(5_000, () => seen.length > 0);
    expect(seen.map((c) => c.people.map((p) => p.name))).toEqual([['bob']]);
    expect(ms).toBeLessThan(2_000);
  });

  it('announces nothing while the file is unchanged', async () => {
    const { seen } = await watching(50);
    await new Promise((r) => setTimeout(r, 400));
    expect(seen).toEqual([]);
  });
});

describe('isNewerGallery', () => {
  it('a higher version of the gallery in use, or another gallery, is newer; the same or an older version is not', () => {
    const inUse = { galleryId: 'g', version: 5 };
    expect(isNewerGallery({ galleryId: 'g', version: 6 }, inUse)).toBe(true);
    expect(isNewerGallery({ galleryId: 'g', version: 5 }, inUse)).toBe(false);
    expect(isNewerGallery({ galleryId: 'g', version: 4 }, inUse)).toBe(false);
    expect(isNewerGallery({ galleryId: 'h', version: 1 }, inUse)).toBe(true);
  });
});
