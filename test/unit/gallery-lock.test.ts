/** The gallery's lock file across processes: who holds it, and when a left-over one is taken over. */
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withGalleryLock } from '../../src/recognition/gallery-lock.js';

describe('withGalleryLock', () => {
  let dir: string;
  let gallery: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-gallery-lock-'));
    gallery = join(dir, 'g.gallery');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds a lock that names this process while the job runs, and leaves no file behind', async () => {
    const seen = await withGalleryLock(gallery, async () => readdirSync(dir));
    expect(seen).toEqual(['g.gallery.lock']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('waits for a live holder and then refuses, naming it', async () => {
    writeFileSync(`${gallery}.lock`, String(process.ppid)); // a process that runs
    await expect(withGalleryLock(gallery, async () => 'ran', 200)).rejects.toThrow(
      `being changed by process ${process.ppid}`,
    );
  });

  it('takes over the lock of a holder that is gone (a crash)', async () => {
    writeFileSync(`${gallery}.lock`, '2147483646'); // no such process
    expect(await withGalleryLock(gallery, async () => 'ran', 200)).toBe('ran');
  });

  it('takes over a damaged lock (no pid) once it is older than one wait, not before', async () => {
    writeFileSync(`${gallery}.lock`, '');
    await expect(withGalleryLock(gallery, async () => 'ran', 200)).rejects.toThrow('being changed');
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(`${gallery}.lock`, old, old);
    expect(await withGalleryLock(gallery, async () => 'ran', 200)).toBe('ran');
  });
});
