/**
 * What a gallery holds about one person, and the bounds on it: the validated name, the change stamp that
 * orders two versions of the same person when galleries merge, and the limits that keep a gallery small
 * enough for a board (people, embeddings per person, file size).
 */
import { FaceedgeError } from '../errors.js';

/** Longest accepted name, in characters (after NFC normalisation). */
export const MAX_NAME_LENGTH = 64;

/**
 * Letters and digits of any script, with single spaces, dots, hyphens, apostrophes and underscores between
 * them: what a person's name or a badge id needs, and nothing that could be a path, a topic wildcard
 * (`+`, `#`, `/`), a control character or markup in a log or the live view.
 */
const NAME_PATTERN = /^[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}._'’-]| (?! ))*$/u;

/**
 * The name as stored (NFC, trimmed); throws GALLERY_NAME_INVALID when it is empty, longer than
 * {@link MAX_NAME_LENGTH} characters or holds anything outside {@link NAME_PATTERN}.
 */
export function validPersonName(raw: string): string {
  const name = raw.normalize('NFC').trim();
  const hint = `a name is 1–${MAX_NAME_LENGTH} letters or digits, with single spaces, dots, hyphens, apostrophes or underscores between them`;
  if (name.length === 0) throw new FaceedgeError('GALLERY_NAME_INVALID', 'the name is empty', { hint });
  if ([...name].length > MAX_NAME_LENGTH) {
    throw new FaceedgeError('GALLERY_NAME_INVALID', `the name is longer than ${MAX_NAME_LENGTH} characters`, { hint });
  }
  if (!NAME_PATTERN.test(name)) {
    throw new FaceedgeError('GALLERY_NAME_INVALID', `the name ${JSON.stringify(name)} has characters a name may not`, {
      hint,
    });
  }
  return name;
}

/** The identity of a name, defined beside the track's person contract (the locks compare names with it too). */
export { personKey } from '../pipeline/track-event.js';

/**
 * When, and by which gallery, a person was last changed. Stamps order the versions of one person:
 * later `at` wins; equal `at`, the greater `by` (a fixed, arbitrary but shared order, so that every
 * merge of the same galleries picks the same winner).
 */
export interface ChangeStamp {
  /** Milliseconds since the epoch; strictly increasing within one gallery even when its clock steps back. */
  readonly at: number;
  /** The `galleryId` of the gallery that made the change. */
  readonly by: string;
}

/** Negative when `a` is older than `b`, 0 when they are the same change, positive when newer. */
export function compareStamps(a: ChangeStamp, b: ChangeStamp): number {
  return a.at !== b.at ? a.at - b.at : a.by < b.by ? -1 : a.by > b.by ? 1 : 0;
}

/** An enrolled person: the name as given and their embeddings (each L2-normalised, `dimensions` long). */
export interface GalleryPerson {
  readonly name: string;
  readonly changed: ChangeStamp;
  readonly embeddings: readonly Float32Array[];
}

/**
 * A removed person: no name and no embedding, only a keyed hash of the name (HMAC-SHA-256 under a random
 * salt of its own) so that a merge can still tell that this person was removed after another gallery's
 * enrolment of them. A plain gallery's tombstone shows a name only to someone who guesses it.
 */
export interface GalleryTombstone {
  /** 16 random bytes, hex. */
  readonly salt: string;
  /** HMAC-SHA-256(salt, personKey(name)), hex. */
  readonly mac: string;
  readonly changed: ChangeStamp;
}

/** Bounds of one gallery; each exceeded one is a GALLERY_LIMIT error naming it. */
export interface GalleryLimits {
  /** Enrolled people. Default 2,000. */
  readonly maxPeople: number;
  /** Embeddings kept per person. Default 20 (a handful of photos per pose and light is plenty). */
  readonly maxEmbeddingsPerPerson: number;
  /**
   * Tombstones kept; beyond, the oldest are dropped (merging a gallery older than a dropped removal would bring
   * that person back). Default 10,000.
   */
  readonly maxTombstones: number;
  /**
   * Largest gallery file, bytes. Default 32 MiB: 2,000 people × 20 embeddings of 128 float32 is 20 MiB (of 512
   * dimensions it would be 80 MiB, and the people bound is what gives first).
   */
  readonly maxFileBytes: number;
}

export const DEFAULT_GALLERY_LIMITS: GalleryLimits = {
  maxPeople: 2000,
  maxEmbeddingsPerPerson: 20,
  maxTombstones: 10_000,
  maxFileBytes: 32 * 1024 * 1024,
};
