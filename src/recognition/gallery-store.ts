/**
 * The owner of one gallery file. Every change (enrol, remove, merge) is one job on a SerialQueue: it
 * reads the file as it is now, applies the change, and replaces the file atomically, so concurrent callers
 * in this process never lose each other's changes and a reader sees either the gallery before a change or
 * after it. Usage:
 *
 * ```ts
 * const store = await GalleryStore.open({ path, key, model: { id: embedder.id, dimensions: embedder.dimensions } });
 * await store.enrol('alice', [embedding]);
 * store.contents.people;   // the gallery as of the last change or open
 * ```
 */
import { FaceedgeError } from '../errors.js';
import { SerialQueue } from '../concurrency/serial-queue.js';
import { decodeGallery, encodeGallery, type GalleryKey } from './gallery-codec.js';
import {
  emptyGallery,
  withEnrolment,
  withRemoval,
  type GalleryContents,
  type GalleryModel,
} from './gallery-contents.js';
import { readGalleryFile, writeGalleryFile, type AtomicWriteHooks } from './gallery-file.js';
import { withGalleryLock } from './gallery-lock.js';
import { mergeGalleries } from './gallery-merge.js';
import { DEFAULT_GALLERY_LIMITS, type GalleryLimits } from './gallery-person.js';

export interface GalleryStoreOptions {
  /** The gallery file (created on the first change when absent). */
  readonly path: string;
  /** The AES-256 key; null for a plain gallery (workstation enrolment, tests). */
  readonly key: GalleryKey | null;
  /**
   * The embedding model in use: a gallery of another model (id or dimensions) is refused. Required to
   * create a gallery; absent, the file's own model is taken (listing, removing).
   */
  readonly model?: GalleryModel;
  /** Default {@link DEFAULT_GALLERY_LIMITS}. */
  readonly limits?: Partial<GalleryLimits>;
  readonly hooks?: AtomicWriteHooks;
}

/** One line of `faces list`: no embedding values, only how many. */
export interface GalleryListing {
  readonly name: string;
  readonly embeddings: number;
  /** The person's last change, ISO 8601. */
  readonly changed: string;
}

export class GalleryStore {
  readonly path: string;
  readonly limits: GalleryLimits;
  #options: GalleryStoreOptions;
  #contents: GalleryContents;
  #queue = new SerialQueue();

  private constructor(options: GalleryStoreOptions, contents: GalleryContents) {
    this.path = options.path;
    this.limits = { ...DEFAULT_GALLERY_LIMITS, ...options.limits };
    this.#options = options;
    this.#contents = contents;
  }

  /**
   * Opens the gallery at `options.path` (an empty one when there is no file yet). Throws what reading
   * it can (gallery-codec.ts, gallery-file.ts), and GALLERY_INVALID for a gallery of another model.
   */
  static async open(options: GalleryStoreOptions): Promise<GalleryStore> {
    const store = new GalleryStore(options, emptyGallery(options.model ?? { id: '', dimensions: 0 }));
    store.#contents = await store.#read();
    return store;
  }

  /** The gallery as of the last change made through this store (or its opening). */
  get contents(): GalleryContents {
    return this.#contents;
  }

  list(): GalleryListing[] {
    return this.#contents.people.map((p) => ({
      name: p.name,
      embeddings: p.embeddings.length,
      changed: new Date(p.changed.at).toISOString(),
    }));
  }

  /** Adds `embeddings` to `name` (enrolling them when new); see `withEnrolment`. */
  enrol(name: string, embeddings: readonly Float32Array[]): Promise<GalleryContents> {
    return this.#change((g) => withEnrolment(g, name, embeddings, this.limits));
  }

  /** Removes `name`: the file is rewritten without their name or embeddings; see `withRemoval`. */
  remove(name: string): Promise<GalleryContents> {
    return this.#change((g) => withRemoval(g, name, this.limits));
  }

  /** Merges `other` into this gallery; see gallery-merge.ts. */
  merge(other: GalleryContents): Promise<GalleryContents> {
    return this.#change((g) => mergeGalleries(g, other, this.limits));
  }

  #change(apply: (gallery: GalleryContents) => GalleryContents): Promise<GalleryContents> {
    // The queue orders this process's changes; the lock, those of other processes (a CLI beside the daemon).
    return this.#queue.run(() => withGalleryLock(this.path, () => this.#changeLocked(apply)));
  }

  async #changeLocked(apply: (gallery: GalleryContents) => GalleryContents): Promise<GalleryContents> {
    // Read again: another process may have changed the file since.
    const next = apply(await this.#read());
    if (!next.model.id) {
      throw new FaceedgeError('GALLERY_INVALID', `${this.path} does not exist yet and no model was given to create it`);
    }
    const bytes = encodeGallery(next, this.#options.key);
    if (bytes.length > this.limits.maxFileBytes) {
      throw new FaceedgeError(
        'GALLERY_LIMIT',
        `the gallery would be ${bytes.length} bytes, more than the ${this.limits.maxFileBytes} allowed`,
        { hint: 'remove people who no longer need access, or enrol fewer photos each' },
      );
    }
    await writeGalleryFile(this.path, bytes, this.#options.hooks);
    this.#contents = next;
    return next;
  }

  async #read(): Promise<GalleryContents> {
    const bytes = await readGalleryFile(this.path, this.limits.maxFileBytes);
    if (!bytes) return this.#contents.version === 0 ? this.#contents : emptyGallery(this.#contents.model);
    const gallery = decodeGallery(bytes, this.#options.key, this.path);
    const want = this.#options.model;
    if (want && (gallery.model.id !== want.id || gallery.model.dimensions !== want.dimensions)) {
      throw new FaceedgeError(
        'GALLERY_INVALID',
        `${this.path} holds embeddings of ${gallery.model.id} (${gallery.model.dimensions} dimensions), not of the model in use, ${want.id} (${want.dimensions})`,
        { hint: 'embeddings of different models cannot be compared: enrol the people again into a new gallery' },
      );
    }
    return gallery;
  }
}
