/**
 * `faceedge model install <dir|tarball>`: a package folder as is, or a `.tar.gz`/`.tgz` unpacked
 * into a temporary folder (GNU tar refuses absolute and `..` member names; the installer then copies
 * only the files the manifest lists anyway).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { MANIFEST_FILE } from './model-package.js';

export interface PackageSource {
  /** Folder holding manifest.json. */
  readonly dir: string;
  /** Removes the temporary folder of an unpacked tarball (no-op for a folder). */
  dispose(): Promise<void>;
}

function untar(tarball: string, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['-xzf', tarball, '-C', into, '--no-same-owner'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (cause) =>
      reject(new FaceedgeError('MODEL_INVALID', `cannot run tar: ${cause.message}`, { cause })),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new FaceedgeError(
              'MODEL_INVALID',
              `${tarball}: not a readable .tar.gz (${stderr.trim() || `tar exit ${code}`})`,
            ),
          ),
    );
  });
}

export async function openPackageSource(path: string): Promise<PackageSource> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new FaceedgeError('MODEL_NOT_FOUND', `${path}: no such model package`);
  if (info.isDirectory()) return { dir: path, dispose: async () => {} };
  const tmp = await mkdtemp(join(tmpdir(), 'faceedge-model-'));
  const dispose = () => rm(tmp, { recursive: true, force: true });
  try {
    await untar(path, tmp);
    // The manifest at the top, or inside the tarball's single top-level folder.
    if (existsSync(join(tmp, MANIFEST_FILE))) return { dir: tmp, dispose };
    const entries = await readdir(tmp, { withFileTypes: true });
    const folder = entries.length === 1 && entries[0].isDirectory() ? join(tmp, entries[0].name) : null;
    if (folder && existsSync(join(folder, MANIFEST_FILE))) return { dir: folder, dispose };
    throw new FaceedgeError(
      'MODEL_INVALID',
      `${path}: the tarball has no ${MANIFEST_FILE} at its top or in a single top-level folder`,
    );
  } catch (err) {
    await dispose();
    throw err;
  }
}
