/**
 * The board's gallery as the requests that change it see it: enrol a person from photos held in memory
 * (an MQTT request's, the live view's frame region), remove a person, list, merge a pushed gallery. Each
 * change writes through a `GalleryStore` on the board's file (atomic, 0600, encrypted, one change at a time
 * across processes) and then hands the contents written to `onChange` (the daemon's `galleryChanged`).
 *
 * It is the board's one holder of the gallery key (read once, at start, by the daemon's gallery service):
 * recognition reads the file through {@link BoardGallery.read}, a gallery push opens its package with
 * {@link BoardGallery.key}, so no other part reads the key file or keeps a store of its own on the file.
 *
 * Photos never touch the disk: they are decoded from the request's bytes, embedded and dropped; only the
 * embeddings of the usable ones are written. One enrolment runs at a time (a SerialQueue): each may decode
 * several photos of up to {@link ENROLMENT_BOUNDS}`.maxPixels`, and two at once would double that memory on
 * a board. At most {@link MAX_ENROLMENTS_ADMITTED} are admitted at once (one running, one waiting); another
 * is refused with ENROLMENT_BUSY, so requests cannot pile up. A request's photos arrive as base64 text and
 * are decoded to bytes, then pixels, only when their turn comes: a waiting request holds its message alone. The photo tools (detector, embedder) are asked for only when a photo is to be looked at, so a
 * board that is never asked to enrol never loads an embedder for it.
 */
import { SerialQueue } from '../concurrency/serial-queue.js';
import type { RgbImage } from '../capture/frame.js';
import { FaceedgeError } from '../errors.js';
import type { GalleryKey } from './gallery-codec.js';
import type { GalleryContents, GalleryModel } from './gallery-contents.js';
import { matchEmbedding } from './gallery-identify.js';
import { personKey, validPersonName } from './gallery-person.js';
import { MIN_ENROL_EYE_DISTANCE_PX, type PhotoQuality } from './gallery-photo-quality.js';
import { photoFaceOfBytes, photoFaceOfPixels, type GalleryPhotoTools, type PhotoFace } from './gallery-photo.js';
import { GalleryStore, type GalleryListing } from './gallery-store.js';
import type { Box } from '../vision/face.js';

/** What one enrolment request may carry. */
export interface EnrolmentBounds {
  /** Photos per request. Default 8: enough angles of one person; more is an upload, not an enrolment. */
  readonly maxPhotos: number;
  /** Encoded bytes per photo. Default 4 MiB: a phone's full-size JPEG; a face needs far less. */
  readonly maxPhotoBytes: number;
  /** Decoded width × height per photo, checked from the header before decoding. Default 16 MP. */
  readonly maxPixels: number;
}

export const ENROLMENT_BOUNDS: EnrolmentBounds = { maxPhotos: 8, maxPhotoBytes: 4 * 1024 * 1024, maxPixels: 16e6 };

/** Enrolments admitted at once: one running and one waiting. A third is refused with ENROLMENT_BUSY. */
export const MAX_ENROLMENTS_ADMITTED = 2;

/** An enrolment photo looking this much like someone else already enrolled is flagged (as `faces add` does). */
export const LOOKS_LIKE_SOMEONE_ELSE = 0.95;

/**
 * One photo of an enrolment request, in memory: its encoded bytes, its encoded bytes as base64 text (an MQTT
 * request's, checked to be base64 and decoded in the enrolment's turn), or pixels (a camera frame's region).
 */
export type EnrolmentPhoto =
  | { readonly origin: string; readonly data: Buffer }
  | { readonly origin: string; readonly base64: string }
  | { readonly origin: string; readonly pixels: RgbImage };

/** What an enrolment says of one photo: never its pixels or its embedding. */
export interface EnrolmentPhotoReport {
  /** The photo's name in the request (`photo 1`…, `track 12`). */
  readonly photo: string;
  readonly usable: boolean;
  /** Why the photo was skipped. */
  readonly reason?: string;
  readonly box: Box | null;
  readonly quality: PhotoQuality | null;
  /** Someone already enrolled whom this face looks very like: perhaps the wrong photo. */
  readonly looks_like?: string;
}

export interface EnrolmentOutcome {
  /** The name as stored (an existing person keeps their spelling). */
  readonly name: string;
  readonly photos: readonly EnrolmentPhotoReport[];
  /** Photos whose embeddings were enrolled. */
  readonly used: number;
  /** The person's embeddings in the gallery now. */
  readonly embeddings: number;
  /** The gallery's version after the enrolment. */
  readonly version: number;
}

export interface BoardGalleryOptions {
  /** The board's gallery file (`recognition.gallery`). */
  readonly path: string;
  /** Its key (`recognition.key_file`, read): the board's gallery is never plain. */
  readonly key: GalleryKey;
  /** The detector and embedder, loaded on first use (and kept by whoever owns them). */
  readonly tools: () => Promise<GalleryPhotoTools>;
  /** Told the contents written after every change (the bus's `galleryChanged`). */
  readonly onChange: (contents: GalleryContents) => void;
  /** Default {@link ENROLMENT_BOUNDS}. */
  readonly bounds?: Partial<EnrolmentBounds>;
}

export class BoardGallery {
  readonly bounds: EnrolmentBounds;
  readonly #o: BoardGalleryOptions;
  readonly #enrolments = new SerialQueue();
  /** Enrolments running or waiting in #enrolments. */
  #admitted = 0;

  constructor(options: BoardGalleryOptions) {
    this.#o = options;
    this.bounds = { ...ENROLMENT_BOUNDS, ...options.bounds };
  }

  /**
   * Enrols `rawName` from `photos`: each photo's primary face (the strict rule of `faces add`: no face, two
   * competing faces or a poor face skip it), then one change of the gallery with the usable ones. Throws
   * GALLERY_NAME_INVALID (before any photo is looked at), REQUEST_INVALID (no photo, too many, too large)
   * ENROLMENT_BUSY when {@link MAX_ENROLMENTS_ADMITTED} are already admitted, and ENROLMENT_FAILED when no
   * photo was usable (nothing is written).
   */
  async enrol(rawName: string, photos: readonly EnrolmentPhoto[]): Promise<EnrolmentOutcome> {
    const name = validPersonName(rawName);
    this.#checkBounds(photos);
    if (this.#admitted >= MAX_ENROLMENTS_ADMITTED) {
      throw new FaceedgeError(
        'ENROLMENT_BUSY',
        `${this.#admitted} enrolments are running or waiting on this board: this one is refused`,
        { hint: 'send it again once the others are answered' },
      );
    }
    this.#admitted += 1;
    try {
      return await this.#enrolments.run(() => this.#enrolNow(name, photos));
    } finally {
      this.#admitted -= 1;
    }
  }

  async #enrolNow(name: string, photos: readonly EnrolmentPhoto[]): Promise<EnrolmentOutcome> {
    const tools = await this.#o.tools();
    const store = await this.#open(modelOf(tools));
    const key = personKey(name);
    const others = { ...store.contents, people: store.contents.people.filter((p) => personKey(p.name) !== key) };
    const reports: EnrolmentPhotoReport[] = [];
    const usable: Float32Array[] = [];
    for (const photo of photos) {
      const face = await this.#face(photo, tools);
      if (face.usable) usable.push(face.embedding);
      reports.push(report(face, others));
    }
    if (usable.length === 0) {
      throw new FaceedgeError(
        'ENROLMENT_FAILED',
        `no usable photo of ${name} among ${photos.length}: nobody was enrolled`,
        { hint: `use sharp, frontal photos with one face, eyes at least ${MIN_ENROL_EYE_DISTANCE_PX} px apart` },
      );
    }
    const after = await store.enrol(name, usable);
    this.#o.onChange(after);
    const person = after.people.find((p) => personKey(p.name) === key);
    return {
      name: person?.name ?? name,
      photos: reports,
      used: usable.length,
      embeddings: person?.embeddings.length ?? usable.length,
      version: after.version,
    };
  }

  /** Removes `rawName` (a tombstone stays, for merges). Throws GALLERY_PERSON_UNKNOWN when nobody is enrolled so. */
  async remove(
    rawName: string,
  ): Promise<{ readonly removed: string; readonly people: number; readonly version: number }> {
    const name = validPersonName(rawName);
    const after = await (await this.#open()).remove(name);
    this.#o.onChange(after);
    return { removed: name, people: after.people.length, version: after.version };
  }

  /** The people enrolled (names, counts, last change: never embeddings), and the gallery's version and model. */
  async list(): Promise<{ readonly version: number; readonly model: GalleryModel; readonly people: GalleryListing[] }> {
    const store = await this.#open();
    return { version: store.contents.version, model: store.contents.model, people: store.list() };
  }

  /**
   * Merges `other` into the board's gallery (gallery-merge.ts: newer changes win, tombstones kept), checked
   * against `model` (the embedder in use): a gallery of another model is refused with GALLERY_INVALID.
   */
  async merge(other: GalleryContents, model: GalleryModel): Promise<GalleryContents> {
    const after = await (await this.#open(model)).merge(other);
    this.#o.onChange(after);
    return after;
  }

  /**
   * The gallery as the board's file holds it now (an empty one of `model` when there is no file yet), decrypted
   * with the board's key and refused with GALLERY_INVALID when its embeddings are of another model than
   * `model`. Recognition's reads, at start and when the file changes: it takes no lock, so a caller may hold
   * the gallery lock around it (the file watcher does); the file is replaced atomically, so a read sees it
   * whole, before or after any change.
   */
  async read(model: GalleryModel): Promise<GalleryContents> {
    return (await this.#open(model)).contents;
  }

  /**
   * The board's gallery key, read once at start: for what must open data sealed for this board (a gallery push's
   * package). Never logged, never sent.
   */
  get key(): GalleryKey {
    return this.#o.key;
  }

  /** The embedding model of the board's photo tools (loads them when not yet loaded). */
  async model(): Promise<GalleryModel> {
    return modelOf(await this.#o.tools());
  }

  /** A store on the board's file; each change re-reads the file under its lock, so a fresh one is never stale. */
  #open(model?: GalleryModel): Promise<GalleryStore> {
    return GalleryStore.open({ path: this.#o.path, key: this.#o.key, model });
  }

  #checkBounds(photos: readonly EnrolmentPhoto[]): void {
    const { maxPhotos, maxPhotoBytes } = this.bounds;
    if (photos.length === 0) throw new FaceedgeError('REQUEST_INVALID', 'no photo to enrol');
    if (photos.length > maxPhotos) {
      throw new FaceedgeError('REQUEST_INVALID', `${photos.length} photos; an enrolment takes at most ${maxPhotos}`, {
        hint: 'send the best few: sharp, frontal, one face each',
      });
    }
    for (const photo of photos) {
      const bytes =
        'data' in photo ? photo.data.length : 'base64' in photo ? Math.floor((photo.base64.length * 3) / 4) : 0;
      if (bytes > maxPhotoBytes) {
        throw new FaceedgeError(
          'REQUEST_INVALID',
          `${photo.origin} is ${bytes} bytes; a photo may be at most ${maxPhotoBytes}`,
          { hint: 'scale the photo down: a face needs a few hundred pixels, not a full-size picture' },
        );
      }
    }
  }

  #face(photo: EnrolmentPhoto, tools: GalleryPhotoTools): Promise<PhotoFace> {
    const limits = { purpose: 'enrol', maxPixels: this.bounds.maxPixels } as const;
    if ('data' in photo) return photoFaceOfBytes(photo.data, photo.origin, tools, limits);
    if ('base64' in photo) return photoFaceOfBytes(Buffer.from(photo.base64, 'base64'), photo.origin, tools, limits);
    const { width, height } = photo.pixels;
    if (width * height > this.bounds.maxPixels)
      throw new FaceedgeError('REQUEST_INVALID', `${photo.origin} is ${width}×${height} pixels, more than allowed`);
    return photoFaceOfPixels(photo.pixels, photo.origin, tools, { purpose: 'enrol' });
  }
}

/** The gallery model of the embedder in `tools`. */
export function modelOf(tools: GalleryPhotoTools): GalleryModel {
  return { id: tools.embedder.id, dimensions: tools.embedder.dimensions };
}

function report(face: PhotoFace, others: GalleryContents): EnrolmentPhotoReport {
  const base = { photo: face.file, usable: face.usable, box: face.box, quality: face.quality };
  if (!face.usable) return { ...base, reason: face.reason };
  const lookalike = matchEmbedding(others, face.embedding, { threshold: LOOKS_LIKE_SOMEONE_ELSE, margin: 0 }).person;
  return lookalike ? { ...base, looks_like: lookalike } : base;
}
