/**
 * A board's gallery made from faces-dev people, for the tests that run the daemon with recognition on
 * (daemon-recognition, door-end-to-end, daemon-enrolment): the people whose two photos the shipped models can
 * enrol, the key and the encrypted gallery written as `faces keygen` and `faces add` write them, and the
 * gallery read back as another process reads it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GalleryContents, GalleryModel } from '../../src/recognition/gallery-contents.js';
import { readGalleryKey, writeGalleryKey } from '../../src/recognition/gallery-key.js';
import { photoFace, type GalleryPhotoTools } from '../../src/recognition/gallery-photo.js';
import { GalleryStore } from '../../src/recognition/gallery-store.js';

export const FACES_DEV = process.env.FACEEDGE_FACES_DEV ?? '/work/shared/data/faces-dev';
const VAL = join(FACES_DEV, 'val', 'female');
/** Why the faces-dev tests skip, or null when faces-dev is there. */
export const NO_FACES_DEV = existsSync(VAL) ? null : `faces-dev not found at ${VAL} (set FACEEDGE_FACES_DEV)`;

/** faces-dev/val photos by identity (`<identity>_<celeba id>.jpg`), identities with two photos, sorted. */
export function facesDevPeople(): [string, string[]][] {
  const byId = new Map<string, string[]>();
  for (const name of readdirSync(VAL).sort()) {
    const id = name.split('_')[0];
    byId.set(id, [...(byId.get(id) ?? []), join(VAL, name)]);
  }
  return [...byId].filter(([, photos]) => photos.length >= 2);
}

/** A faces-dev person whose first two photos are both usable for enrolment, and their embeddings. */
export type UsablePerson = [id: string, photos: string[], embeddings: Float32Array[]];

/**
 * The first `max` faces-dev people (default 12) whose first two photos are both usable for enrolment with
 * `tools` (the strict rule of `faces add`), in {@link facesDevPeople} order.
 */
export async function usablePeople(tools: GalleryPhotoTools, max = 12): Promise<UsablePerson[]> {
  const embed = async (file: string) => {
    const face = await photoFace(file, tools, { purpose: 'enrol' });
    return face.usable ? face.embedding : null;
  };
  const usable: UsablePerson[] = [];
  for (const [id, photos] of facesDevPeople()) {
    const e = await Promise.all(photos.slice(0, 2).map(embed));
    if (e[0] && e[1]) usable.push([id, photos.slice(0, 2), [e[0], e[1]]]);
    if (usable.length >= max) break;
  }
  return usable;
}

/**
 * Writes a new key to `keyFile` and, under it, a gallery at `galleryFile` of `model` with each of `people`
 * (name, embeddings) enrolled in order.
 */
export async function writeTestGallery(o: {
  readonly keyFile: string;
  readonly galleryFile: string;
  readonly model: GalleryModel;
  readonly people: readonly (readonly [name: string, embeddings: Float32Array[]])[];
}): Promise<void> {
  await writeGalleryKey(o.keyFile);
  const store = await GalleryStore.open({ path: o.galleryFile, key: await readGalleryKey(o.keyFile), model: o.model });
  for (const [name, embeddings] of o.people) await store.enrol(name, embeddings);
}

/** A store on the gallery file, under the key in `keyFile`, as a `faces` command beside the daemon opens it. */
export async function openTestGallery(galleryFile: string, keyFile: string): Promise<GalleryStore> {
  return GalleryStore.open({ path: galleryFile, key: await readGalleryKey(keyFile) });
}

/** The gallery file's contents now, read with the key in `keyFile`. */
export async function readTestGallery(galleryFile: string, keyFile: string): Promise<GalleryContents> {
  return (await openTestGallery(galleryFile, keyFile)).contents;
}
