/**
 * Reads a labeled image folder: `<root>/<class>/*.jpg` or, with splits,
 * `<root>/{train,val,test}/<class>/*.jpg` (the layout of faces-dev and of the paper's dataset).
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { FaceedgeError } from '../errors.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.gif', '.tif', '.tiff']);
export const SPLITS = ['train', 'val', 'test'] as const;

export interface LabeledImage {
  /** Split name, or '' for a folder without splits. */
  readonly split: string;
  readonly label: string;
  /** Absolute path. */
  readonly path: string;
  /** Path relative to the root, e.g. `train/female/1_2.jpg`. */
  readonly relative: string;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function listClassFolder(root: string, split: string): Promise<LabeledImage[]> {
  const base = split ? join(root, split) : root;
  const entries = await readdir(base, { withFileTypes: true });
  const labels = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const images: LabeledImage[] = [];
  for (const label of labels) {
    const files = (await readdir(join(base, label)))
      .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .sort();
    for (const file of files) {
      images.push({ split, label, path: join(base, label, file), relative: join(split, label, file) });
    }
  }
  return images;
}

/** Every image of the folder, sorted, with split and label. Throws DATASET_INVALID when empty. */
export async function listLabeledImages(root: string): Promise<LabeledImage[]> {
  if (!(await isDir(root))) throw new FaceedgeError('DATASET_INVALID', `${root} is not a folder`);
  const splits = [];
  for (const split of SPLITS) if (await isDir(join(root, split))) splits.push(split);
  const images =
    splits.length > 0
      ? (await Promise.all(splits.map((s) => listClassFolder(root, s)))).flat()
      : await listClassFolder(root, '');
  if (images.length === 0) {
    throw new FaceedgeError('DATASET_INVALID', `${root} holds no images`, {
      hint: 'expected <root>/<class>/*.jpg or <root>/{train,val,test}/<class>/*.jpg',
    });
  }
  return images;
}
