/**
 * What every gallery command shares: where the gallery is (`--gallery FILE`, else `<state_dir>/faces.gallery`
 * of the `--config` given), its key (`--key FILE`, else the config's `recognition.key_file`; none: a plain gallery), the embedder and detector for
 * the commands that look at photos, and the one `faces` command group they all hang under.
 */
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { FaceedgeError } from '../../errors.js';
import { FaceDetector, type DetectorModel } from '../../inference/face-detector.js';
import { FaceEmbedder } from '../../inference/face-embedder.js';
import { readGalleryKey } from '../../recognition/gallery-key.js';
import { GalleryStore } from '../../recognition/gallery-store.js';
import type { GalleryPhotoTools } from '../../recognition/gallery-photo.js';
import { GALLERY_FILE_NAME } from '../../recognition/recognition-config-schema.js';
import { shippedEmbedderPath } from './faces-verify.js';

export interface GalleryFlags {
  readonly gallery?: string;
  readonly key?: string;
  readonly config?: string;
}

export interface PhotoFlags {
  readonly model: string;
  readonly detector: DetectorModel;
}

/** The `faces` command group (created by whichever faces command registers first). */
export function facesCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'faces') ??
    program.command('faces').description('known faces: the gallery, enrolment, identification, verification')
  );
}

/** Adds `--gallery`, `--key`, `--config` to `command`. */
export function withGalleryOptions(command: Command): Command {
  return command
    .option('--gallery <file>', `gallery file (default: <state_dir>/${GALLERY_FILE_NAME} of --config)`)
    .option('--key <file>', 'gallery key, 32 bytes, mode 0600 (absent: a plain, unencrypted gallery)')
    .option('-c, --config <file>', 'board configuration (for its state_dir)');
}

/** Adds `--model` and `--detector` to `command`. */
export function withPhotoOptions(command: Command): Command {
  return command
    .option('--model <path>', 'embedder .tflite (its manifest.json beside it)', shippedEmbedderPath())
    .addOption(new Option('--detector <model>', 'face detector').choices(['short', 'full']).default('short'));
}

/** `--concurrency` as a whole number from 1 to 64; USAGE otherwise. */
export function parseConcurrency(raw: string): number {
  const n = Number(raw);
  if (!(Number.isInteger(n) && n >= 1 && n <= 64)) {
    throw new FaceedgeError('USAGE', `--concurrency must be a whole number from 1 to 64, got ${raw}`);
  }
  return n;
}

/** Where the flags put the gallery, and the key file it is read with (null: a plain gallery). */
export interface GalleryLocation {
  readonly path: string;
  readonly keyFile: string | null;
}

/**
 * The gallery the flags name: `--gallery`, else the `--config`'s `recognition.gallery`; its key: `--key`,
 * else the `--config`'s `recognition.key_file` (the board's own key, so that an installer on the board
 * needs no flag but `--config`). Throws USAGE when neither `--gallery` nor `--config` is given.
 */
export function galleryLocation(flags: GalleryFlags, env: NodeJS.ProcessEnv): GalleryLocation {
  const recognition = flags.config ? loadConfig({ file: flags.config, env }).recognition : null;
  const path = flags.gallery ?? recognition?.gallery;
  if (!path) {
    throw new FaceedgeError(
      'USAGE',
      'which gallery? give --gallery FILE, or --config FILE for <state_dir>/faces.gallery',
    );
  }
  return { path, keyFile: flags.key ?? recognition?.key_file ?? null };
}

/** Opens the gallery the flags name (see {@link galleryLocation}), checked against `model` when given. */
export async function openGallery(
  flags: GalleryFlags,
  env: NodeJS.ProcessEnv,
  model?: { id: string; dimensions: number },
): Promise<{ store: GalleryStore; encrypted: boolean }> {
  const { path, keyFile } = galleryLocation(flags, env);
  if (!flags.gallery && !keyFile) {
    // The board's own gallery (under state_dir) is never plain: plain galleries are for workstations and tests.
    throw new FaceedgeError('GALLERY_KEY_INVALID', `the board's gallery ${path} is encrypted: give --key FILE`, {
      hint: 'set recognition.key_file in the config (faceedge faces keygen FILE makes a key); a plain gallery needs an explicit --gallery FILE',
    });
  }
  const key = keyFile ? await readGalleryKey(keyFile) : null;
  return { store: await GalleryStore.open({ path, key, model }), encrypted: key !== null };
}

/** Detector and embedder for photo commands; `use` runs with them and they are closed after. */
export async function withPhotoTools<T>(flags: PhotoFlags, use: (tools: GalleryPhotoTools) => Promise<T>): Promise<T> {
  const embedder = await FaceEmbedder.create({ modelPath: flags.model });
  const detector = await FaceDetector.create({ model: flags.detector }).catch(async (err) => {
    await embedder.close();
    throw err;
  });
  try {
    return await use({ detector, embedder });
  } finally {
    await Promise.all([detector.close(), embedder.close()]);
  }
}
