/**
 * A gallery's contents as an immutable value, and the changes made to it: enrol (add embeddings to a
 * person), remove (leave a tombstone), each returning a new value with the version increased and the
 * person's change stamped. The file format (gallery-codec.ts) and the owner that writes it
 * (gallery-store.ts) sit on top; merging two galleries is gallery-merge.ts.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { FaceedgeError } from '../errors.js';
import {
  compareStamps,
  DEFAULT_GALLERY_LIMITS,
  personKey,
  validPersonName,
  type ChangeStamp,
  type GalleryLimits,
  type GalleryPerson,
  type GalleryTombstone,
} from './gallery-person.js';

/** The embedding model a gallery's embeddings come from: embeddings of another model are meaningless here. */
export interface GalleryModel {
  /** Manifest `id`. */
  readonly id: string;
  /** Embedding length. */
  readonly dimensions: number;
}

export interface GalleryContents {
  /** Random id of this gallery, chosen at creation: the `by` of the changes it makes. */
  readonly galleryId: string;
  readonly model: GalleryModel;
  /** Increases by at least 1 on every change, merges included. */
  readonly version: number;
  /** Sorted by name key. */
  readonly people: readonly GalleryPerson[];
  readonly tombstones: readonly GalleryTombstone[];
}

export function emptyGallery(model: GalleryModel): GalleryContents {
  return { galleryId: randomUUID(), model, version: 0, people: [], tombstones: [] };
}

/** True when `tombstone` is the removal of a person called `name`. */
export function tombstoneMatches(tombstone: GalleryTombstone, name: string): boolean {
  return tombstoneMac(tombstone.salt, name) === tombstone.mac;
}

export function tombstoneFor(name: string, changed: ChangeStamp): GalleryTombstone {
  const salt = randomBytes(16).toString('hex');
  return { salt, mac: tombstoneMac(salt, name), changed };
}

function tombstoneMac(salt: string, name: string): string {
  return createHmac('sha256', Buffer.from(salt, 'hex')).update(personKey(name), 'utf8').digest('hex');
}

/**
 * The stamp of a change made now by `gallery`: wall-clock time, but later than every stamp already in
 * it, so that a clock stepping back (a board without RTC before NTP) never makes a change lose to an
 * older one.
 */
export function nextStamp(gallery: GalleryContents, now = Date.now()): ChangeStamp {
  let latest = 0;
  for (const p of gallery.people) latest = Math.max(latest, p.changed.at);
  for (const t of gallery.tombstones) latest = Math.max(latest, t.changed.at);
  return { at: Math.max(now, latest + 1), by: gallery.galleryId };
}

/** Throws GALLERY_INVALID unless `embedding` fits `model` and is unit length (as the embedder returns it). */
export function checkEmbedding(embedding: Float32Array, model: GalleryModel): void {
  if (embedding.length !== model.dimensions) {
    throw new FaceedgeError(
      'GALLERY_INVALID',
      `an embedding of ${embedding.length} values does not fit the gallery's model (${model.id}, ${model.dimensions} dimensions)`,
    );
  }
  let sum = 0;
  for (const v of embedding) sum += v * v;
  if (!(Math.abs(sum - 1) < 1e-3)) {
    throw new FaceedgeError('GALLERY_INVALID', 'an embedding is not L2-normalised (or holds NaN)', {
      hint: 'embeddings come from FaceEmbedder.embed, which normalises them',
    });
  }
}

/** Sorted by name key: one order for every writer, so that equal galleries are equal files. */
export function sortPeople(people: readonly GalleryPerson[]): GalleryPerson[] {
  return [...people].sort((a, b) => (personKey(a.name) < personKey(b.name) ? -1 : 1));
}

/** Throws GALLERY_LIMIT when `gallery` holds more people or embeddings than `limits` allow. */
export function checkLimits(gallery: GalleryContents, limits: GalleryLimits = DEFAULT_GALLERY_LIMITS): void {
  if (gallery.people.length > limits.maxPeople) {
    throw new FaceedgeError(
      'GALLERY_LIMIT',
      `the gallery would hold ${gallery.people.length} people, more than ${limits.maxPeople}`,
      {
        hint: 'remove people who no longer need access (faceedge faces remove)',
      },
    );
  }
  for (const p of gallery.people) {
    if (p.embeddings.length > limits.maxEmbeddingsPerPerson) {
      throw new FaceedgeError(
        'GALLERY_LIMIT',
        `${p.name} would have ${p.embeddings.length} embeddings, more than ${limits.maxEmbeddingsPerPerson}`,
        { hint: 'remove the person and enrol their best photos again' },
      );
    }
  }
}

/**
 * `gallery` with `embeddings` added to the person called `name` (enrolled anew when absent; a tombstone
 * of theirs is dropped: the enrolment is newer). Throws GALLERY_NAME_INVALID, GALLERY_INVALID (an
 * embedding of another model) or GALLERY_LIMIT.
 */
export function withEnrolment(
  gallery: GalleryContents,
  rawName: string,
  embeddings: readonly Float32Array[],
  limits: GalleryLimits = DEFAULT_GALLERY_LIMITS,
  now = Date.now(),
): GalleryContents {
  const name = validPersonName(rawName);
  if (embeddings.length === 0) throw new FaceedgeError('GALLERY_INVALID', `no embedding to enrol for ${name}`);
  for (const e of embeddings) checkEmbedding(e, gallery.model);
  const key = personKey(name);
  const existing = gallery.people.find((p) => personKey(p.name) === key);
  const changed = nextStamp(gallery, now);
  const person: GalleryPerson = {
    name: existing?.name ?? name,
    changed,
    embeddings: [...(existing?.embeddings ?? []), ...embeddings.map((e) => Float32Array.from(e))],
  };
  const next: GalleryContents = {
    ...gallery,
    version: gallery.version + 1,
    people: sortPeople([...gallery.people.filter((p) => p !== existing), person]),
    tombstones: gallery.tombstones.filter((t) => !tombstoneMatches(t, name)),
  };
  checkLimits(next, limits);
  return next;
}

/**
 * `gallery` without the person called `name`: their name and embeddings are gone, a tombstone stays
 * (gallery-person.ts). Throws GALLERY_PERSON_UNKNOWN when nobody is enrolled under that name.
 */
export function withRemoval(
  gallery: GalleryContents,
  rawName: string,
  limits: GalleryLimits = DEFAULT_GALLERY_LIMITS,
  now = Date.now(),
): GalleryContents {
  const name = validPersonName(rawName);
  const key = personKey(name);
  const existing = gallery.people.find((p) => personKey(p.name) === key);
  if (!existing) {
    throw new FaceedgeError('GALLERY_PERSON_UNKNOWN', `nobody called ${JSON.stringify(name)} is enrolled`, {
      hint: 'faceedge faces list shows who is',
    });
  }
  const tombstone = tombstoneFor(name, nextStamp(gallery, now));
  return {
    ...gallery,
    version: gallery.version + 1,
    people: gallery.people.filter((p) => p !== existing),
    tombstones: keepNewestTombstones(
      [...gallery.tombstones.filter((t) => !tombstoneMatches(t, name)), tombstone],
      limits.maxTombstones,
    ),
  };
}

/** The newest `max` tombstones, oldest first. */
export function keepNewestTombstones(tombstones: readonly GalleryTombstone[], max: number): GalleryTombstone[] {
  return [...tombstones].sort((a, b) => compareStamps(a.changed, b.changed)).slice(-max);
}
