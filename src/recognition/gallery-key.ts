/**
 * The gallery's key file: 32 random bytes (`openssl rand 32 > key; chmod 600 key`, or `faceedge faces
 * keygen`), or the same as 64 hex digits. A key file that the group or others may read is refused: whoever
 * can read it can read every enrolled face's embedding.
 */
import { constants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { FaceedgeError } from '../errors.js';
import type { GalleryKey } from './gallery-codec.js';

const KEY_BYTES = 32;
const KEY_HINT = 'make one with `faceedge faces keygen FILE` (or `openssl rand 32 > FILE; chmod 600 FILE`)';

/** Reads and checks the key file at `path`; throws GALLERY_KEY_INVALID naming what is wrong. */
export async function readGalleryKey(path: string): Promise<GalleryKey> {
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new FaceedgeError('GALLERY_KEY_INVALID', `cannot read the gallery key ${path}: ${(cause as Error).message}`, {
      hint: KEY_HINT,
      cause,
    });
  }
  if (!info.isFile())
    throw new FaceedgeError('GALLERY_KEY_INVALID', `the gallery key ${path} is not a file`, { hint: KEY_HINT });
  if ((info.mode & 0o077) !== 0) {
    throw new FaceedgeError(
      'GALLERY_KEY_INVALID',
      `the gallery key ${path} may be read by others (mode ${(info.mode & 0o777).toString(8)})`,
      { hint: `chmod 600 ${path}` },
    );
  }
  const bytes = await readFile(path);
  if (bytes.length === KEY_BYTES) return bytes;
  const text = bytes.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  throw new FaceedgeError(
    'GALLERY_KEY_INVALID',
    `the gallery key ${path} is ${bytes.length} bytes; a key is ${KEY_BYTES} bytes (or 64 hex digits)`,
    { hint: KEY_HINT },
  );
}

/**
 * Writes a new random key to `path` with mode 0600; refuses to replace an existing file (a gallery written
 * under it could no longer be read).
 */
export async function writeGalleryKey(path: string): Promise<void> {
  let file;
  try {
    file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (cause) {
    const exists = (cause as NodeJS.ErrnoException).code === 'EEXIST';
    throw new FaceedgeError(
      'GALLERY_KEY_INVALID',
      exists ? `${path} exists: a key is never overwritten` : `cannot write ${path}: ${(cause as Error).message}`,
      {
        hint: exists ? 'a gallery written under the old key could no longer be read; choose another path' : undefined,
        cause,
      },
    );
  }
  try {
    await file.writeFile(randomBytes(KEY_BYTES));
    await file.sync();
  } finally {
    await file.close();
  }
}
