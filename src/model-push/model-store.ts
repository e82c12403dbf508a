/**
 * The board's model folder (default /var/lib/faceedge/models):
 *
 *   versions/<id>-<manifest sha256[:12]>/   one verified package per folder, never modified in place
 *     head/                                  its head on the face embedding, for a pair (head-package.ts)
 *   current  -> versions/…                  what the daemon serves
 *   previous -> versions/…                  what `faceedge model rollback` goes back to
 *   .staging/<random>/                      packages being copied and checked
 *
 * The links are replaced by rename(2), so a reader (the daemon, a concurrent CLI) sees the old or
 * the new model, never a missing or half-written one. Only current and previous are kept. A pair's head lives
 * in its image model's version folder, so it has the same history: a switch or rollback moves both.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import type { ModelManifest } from '../inference/model-manifest.js';
import { MANIFEST_FILE, parsePackageManifest, servingFile, sha256Hex } from './model-package.js';
import { withDirectoryLock } from './directory-lock.js';
import { installedHead, type InstalledHead } from './head-package.js';

export interface InstalledModel {
  /** Folder name under `versions/`. */
  readonly name: string;
  readonly dir: string;
  readonly manifest: ModelManifest;
  /** The file the daemon loads (int8 when the package has one). */
  readonly modelPath: string;
  readonly manifestPath: string;
  /** The head installed with it (a pair package's `head/`), null without one. */
  readonly head: InstalledHead | null;
}

export interface Activation {
  readonly current: InstalledModel;
  /** The model it replaced, now `previous`; null on a first install or when it was already current. */
  readonly previous: InstalledModel | null;
  /** True when this exact package was already serving: nothing changed. */
  readonly unchanged: boolean;
}

/**
 * `versions/` folder name for a package: its id (made path-safe) and a prefix of its manifest hash; for a pair,
 * of its manifest and its head's (`headManifestBytes`), so the same image model with another head is another version.
 */
export function versionName(
  manifest: Pick<ModelManifest, 'id'>,
  manifestBytes: Buffer,
  headManifestBytes?: Buffer,
): string {
  const id = manifest.id
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 80);
  const hashed = headManifestBytes
    ? Buffer.concat([manifestBytes, Buffer.from('\0head:'), headManifestBytes])
    : manifestBytes;
  return `${id}-${sha256Hex(hashed).slice(0, 12)}`;
}

export class ModelStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get currentLink(): string {
    return join(this.root, 'current');
  }

  /** Runs `fn` holding the store's lock (installs from SSH and MQTT may race). */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    return withDirectoryLock(join(this.root, '.lock'), fn);
  }

  async current(): Promise<InstalledModel | null> {
    return this.#resolve('current');
  }

  async previous(): Promise<InstalledModel | null> {
    return this.#resolve('previous');
  }

  /** Folder names under `versions/`. */
  async versions(): Promise<string[]> {
    return (await readdir(join(this.root, 'versions')).catch(() => [] as string[])).sort();
  }

  /** A fresh, empty staging folder inside the store (same filesystem, so activation is a rename). */
  async stage(): Promise<string> {
    const dir = join(this.root, '.staging', randomBytes(8).toString('hex'));
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return dir;
  }

  async discard(staged: string): Promise<void> {
    await rm(staged, { recursive: true, force: true });
  }

  /**
   * Moves a verified staging folder to `versions/<name>` and points `current` at it (the old current
   * becomes `previous`; with no current, there is no `previous` afterwards). Call inside `locked()`.
   */
  async activate(staged: string, name: string): Promise<Activation> {
    const before = await this.#target('current');
    if (before === name) {
      await this.discard(staged);
      return { current: (await this.current())!, previous: null, unchanged: true };
    }
    const versions = join(this.root, 'versions');
    await mkdir(versions, { recursive: true, mode: 0o755 });
    // The same package may sit there as `previous` or a leftover: replace it with the checked copy.
    const dest = join(versions, name);
    const trash = join(this.root, '.staging', `old-${randomBytes(4).toString('hex')}`);
    await rename(dest, trash).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rename(staged, dest);
    await rm(trash, { recursive: true, force: true });
    // With no current (a first install, or after retireCurrent() rolled back to `classifier.model`) the
    // model this one replaces is the configured one: a `previous` left from before must go, or a rollback
    // of this install would switch to that stale package instead of back to `classifier.model`.
    if (before) await this.#point('previous', before);
    else await rm(join(this.root, 'previous'), { force: true });
    await this.#point('current', name);
    await this.#prune();
    return { current: (await this.current())!, previous: before ? await this.previous() : null, unchanged: false };
  }

  /** Swaps current and previous. Call inside `locked()`, after checking the previous package. */
  async swapToPrevious(): Promise<Activation> {
    const [cur, prev] = [await this.#target('current'), await this.#target('previous')];
    if (!prev || !(await this.#resolve('previous'))) {
      throw new FaceedgeError('MODEL_NO_PREVIOUS', `no previous model in ${this.root} to roll back to`, {
        hint: 'rollback needs an earlier successful install',
      });
    }
    await this.#point('current', prev);
    // After retireCurrent() there was no current: the restored model must not stay `previous` as well.
    if (cur) await this.#point('previous', cur);
    else await rm(join(this.root, 'previous'), { force: true });
    return { current: (await this.current())!, previous: await this.previous(), unchanged: false };
  }

  /**
   * Makes the current model `previous` and leaves no current one, so the daemon serves its configured
   * `classifier.model` again (rolling back a board's first install). Call inside `locked()`.
   */
  async retireCurrent(): Promise<void> {
    if (!(await this.#target('current'))) {
      throw new FaceedgeError('MODEL_NO_PREVIOUS', `no current model in ${this.root} to roll back`, {
        hint: 'the board already serves its configured classifier.model',
      });
    }
    await rename(this.currentLink, join(this.root, 'previous'));
  }

  async #target(link: 'current' | 'previous'): Promise<string | null> {
    try {
      const target = await readlink(join(this.root, link));
      return target.replace(/^versions\//, '');
    } catch {
      return null;
    }
  }

  async #resolve(link: 'current' | 'previous'): Promise<InstalledModel | null> {
    const name = await this.#target(link);
    if (!name) return null;
    const dir = join(this.root, 'versions', name);
    let manifestBytes: Buffer;
    try {
      manifestBytes = await readFile(join(dir, MANIFEST_FILE));
    } catch {
      return null;
    }
    const { manifest, files } = parsePackageManifest(manifestBytes, dir);
    return {
      name,
      dir,
      manifest,
      modelPath: join(dir, servingFile({ files }).name),
      manifestPath: join(dir, MANIFEST_FILE),
      head: await installedHead(dir),
    };
  }

  /** Atomically (re)points `link` at `versions/<name>`: a new symlink renamed over the old one. */
  async #point(link: 'current' | 'previous', name: string): Promise<void> {
    const tmp = join(this.root, `.${link}-${randomBytes(4).toString('hex')}`);
    await symlink(join('versions', name), tmp);
    await rename(tmp, join(this.root, link));
  }

  async #prune(): Promise<void> {
    const keep = new Set([await this.#target('current'), await this.#target('previous')]);
    for (const name of await this.versions()) {
      if (!keep.has(name)) await rm(join(this.root, 'versions', name), { recursive: true, force: true });
    }
  }
}
