/**
 * Merging two galleries of the same model (enrolments made on a workstation and on the board, or on two
 * boards of a site) without losing a change:
 *
 * - the people are the union of both galleries' people;
 * - a person in both is taken whole from the gallery whose change of them is newer (their change stamps:
 *   later time wins, a tie is broken by gallery id, so every merge of the same two galleries agrees);
 * - a removal is kept as a tombstone: it beats an enrolment of that person older than it, and loses to a
 *   newer one (the person was enrolled again after being removed). Tombstones match no enrolment are kept,
 *   so that merging a third gallery later still removes the person there.
 *
 * The merge is commutative and idempotent in its people and tombstones; the result keeps the first
 * gallery's id and its version is above both.
 */
import { FaceedgeError } from '../errors.js';
import {
  checkLimits,
  keepNewestTombstones,
  sortPeople,
  tombstoneMatches,
  type GalleryContents,
} from './gallery-contents.js';
import {
  compareStamps,
  DEFAULT_GALLERY_LIMITS,
  personKey,
  type GalleryLimits,
  type GalleryPerson,
  type GalleryTombstone,
} from './gallery-person.js';

/** `into` with `from` merged in (see the module comment). Throws GALLERY_INVALID for galleries of different models. */
export function mergeGalleries(
  into: GalleryContents,
  from: GalleryContents,
  limits: GalleryLimits = DEFAULT_GALLERY_LIMITS,
): GalleryContents {
  if (into.model.id !== from.model.id || into.model.dimensions !== from.model.dimensions) {
    throw new FaceedgeError(
      'GALLERY_INVALID',
      `cannot merge a gallery of ${from.model.id} (${from.model.dimensions} dimensions) into one of ${into.model.id} (${into.model.dimensions})`,
      { hint: 'embeddings of different models cannot be compared: enrol the people again with this model' },
    );
  }
  const newest = new Map<string, GalleryPerson>();
  for (const person of [...into.people, ...from.people]) {
    const key = personKey(person.name);
    const other = newest.get(key);
    if (!other || compareStamps(person.changed, other.changed) > 0) newest.set(key, person);
  }
  const tombstones = uniqueTombstones([...into.tombstones, ...from.tombstones]);
  const people = [...newest.values()].filter(
    (person) =>
      !tombstones.some((t) => compareStamps(t.changed, person.changed) > 0 && tombstoneMatches(t, person.name)),
  );
  const kept = tombstones.filter(
    (t) => !people.some((p) => compareStamps(p.changed, t.changed) > 0 && tombstoneMatches(t, p.name)),
  );
  const merged: GalleryContents = {
    galleryId: into.galleryId,
    model: into.model,
    version: Math.max(into.version, from.version) + 1,
    people: sortPeople(people),
    tombstones: keepNewestTombstones(kept, limits.maxTombstones),
  };
  checkLimits(merged, limits);
  return merged;
}

/** The same tombstone (same salt) twice, as after merging a gallery with its own copy, is kept once. */
function uniqueTombstones(tombstones: readonly GalleryTombstone[]): GalleryTombstone[] {
  const bySalt = new Map<string, GalleryTombstone>();
  for (const t of tombstones) bySalt.set(t.salt, t);
  return [...bySalt.values()];
}
