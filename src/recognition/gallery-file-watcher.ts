/**
 * Follows a gallery file changed by another process (`faces add` / `faces remove` beside the daemon): watches
 * its folder (fs.watch; the atomic replace is a rename into the folder) and, as a fallback where fs.watch
 * misses events or cannot run (some network and overlay file systems), stats the file periodically. When the
 * file's identity, size or mtime changed, it is read again under the gallery lock (never half-written) and
 * its contents are handed to `onChange` (whose owner decides whether they are newer than its own). Checks are
 * debounced and run one at a time; a gallery that cannot be read is reported and the last one stays in use.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { GalleryContents } from './gallery-contents.js';
import { withGalleryLock } from './gallery-lock.js';

/** Which gallery is in use: its id and version. */
export interface GalleryVersion {
  readonly galleryId: string;
  readonly version: number;
}

/**
 * Whether announced `contents` are newer than the gallery `inUse`: a higher version of it, or another gallery
 * (a file replaced by a new one starts its versions again). A watcher also reads the daemon's own writes,
 * already followed: those are not newer.
 */
export function isNewerGallery(contents: GalleryVersion, inUse: GalleryVersion): boolean {
  return contents.galleryId !== inUse.galleryId || contents.version > inUse.version;
}

export interface GalleryFileWatcherOptions {
  /** The gallery file (`recognition.gallery`). */
  readonly path: string;
  /** Reads the file's contents (a `GalleryStore.open` with the board's key and model); run under the lock. */
  readonly read: () => Promise<GalleryContents>;
  /** Told the contents of the file each time it was read after a change. */
  readonly onChange: (contents: GalleryContents) => void;
  /** Told when the changed file could not be read (the last gallery stays in use). */
  readonly onError: (error: unknown) => void;
  /** Stat fallback period, ms. Default 2000. */
  readonly pollMs?: number;
  /** Quiet time after a folder event before the file is looked at, ms. Default 100. */
  readonly debounceMs?: number;
}

export class GalleryFileWatcher {
  readonly #o: GalleryFileWatcherOptions;
  /** `ino:size:mtime` of the file as last read ('' when absent), so an unchanged file is not read again. */
  #seen = '';
  #watcher: FSWatcher | null = null;
  #poll: NodeJS.Timeout | null = null;
  #debounce: NodeJS.Timeout | null = null;
  /** The check running now, and whether another was asked for meanwhile. */
  #checking: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(options: GalleryFileWatcherOptions) {
    this.#o = options;
  }

  /** Starts watching; the file as it is now counts as seen. */
  async start(): Promise<void> {
    this.#seen = await this.#fingerprint();
    const name = basename(this.#o.path);
    try {
      this.#watcher = watch(dirname(this.#o.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.#schedule();
      });
      this.#watcher.on('error', () => this.#watcher?.close()); // the stat fallback goes on
    } catch {
      this.#watcher = null; // no fs.watch here: the stat fallback alone
    }
    this.#poll = setInterval(() => this.#schedule(0), this.#o.pollMs ?? 2000);
    this.#poll.unref();
  }

  /** Stops watching and waits for a check in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
    await this.#checking;
  }

  #schedule(delayMs = this.#o.debounceMs ?? 100): void {
    if (this.#stopped) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => this.#check(), delayMs);
    this.#debounce.unref();
  }

  #check(): void {
    if (this.#checking) {
      this.#again = true;
      return;
    }
    this.#checking = this.#checkOnce()
      .catch((err: unknown) => this.#o.onError(err))
      .finally(() => {
        this.#checking = null;
        if (this.#again && !this.#stopped) {
          this.#again = false;
          this.#check();
        }
      });
  }

  async #checkOnce(): Promise<void> {
    const now = await this.#fingerprint();
    if (now === this.#seen) return;
    this.#seen = now; // a file that cannot be read is reported once, not at every poll
    const { contents, fingerprint } = await withGalleryLock(this.#o.path, async () => ({
      fingerprint: await this.#fingerprint(),
      contents: await this.#o.read(),
    }));
    this.#seen = fingerprint;
    if (!this.#stopped) this.#o.onChange(contents);
  }

  async #fingerprint(): Promise<string> {
    try {
      const s = await stat(this.#o.path, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      return '';
    }
  }
}
