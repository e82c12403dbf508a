/**
 * The one install path every transport ends in (CLI from a folder or tarball, SSH, MQTT): copy into
 * the store's staging area, verify the copies (sha256 of every file, the ed25519 signature over the
 * manifest), load each model in a fresh interpreter and run the golden self-test, and only then
 * switch `current`. Any failure discards the staging copy and throws a typed error: the serving
 * model is never touched.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { FaceedgeError } from '../errors.js';
import {
  MANIFEST_FILE,
  SIGNATURE_FILE,
  readModelPackage,
  servingFile,
  verifyPackageFiles,
  type ModelPackage,
} from './model-package.js';
import { HEAD_FOLDER, hasHead, readHeadPackage, verifyHeadPackage, type HeadRules } from './head-package.js';
import { runModelSelfTest, type SelfTestOptions, type SelfTestResult } from './model-selftest.js';
import { verifyManifestSignature } from './model-signature.js';
import { versionName, type Activation, type ModelStore } from './model-store.js';

export interface VerifyOptions {
  /** Public keys a package may be signed with. */
  readonly trustedKeys: readonly KeyObject[];
  /** Refuse unsigned packages. Default true; false only makes sense on a development board. */
  readonly requireSignature?: boolean;
  readonly selfTest?: SelfTestOptions;
  /** Skip the signature (rollback: it was checked when the package was installed). Default false. */
  readonly skipSignature?: boolean;
  /**
   * The board's head slot and embedder for this model (the daemon's pushes): a package carrying a head (`head/`,
   * src/model-push/head-package.ts) is refused without a slot or when pinned to another embedder. Absent (a
   * shell's install, a rollback): the head is checked on its own and beside its image model only.
   */
  readonly head?: HeadRules;
}

export interface VerifiedPackage {
  readonly pkg: ModelPackage;
  /** Key id that signed the manifest; null for an unsigned package allowed by `requireSignature: false`. */
  readonly signedBy: string | null;
  readonly selfTests: readonly SelfTestResult[];
  /** The head installed with the model (a pair package), null without one. */
  readonly head: { readonly id: string; readonly signedBy: string | null } | null;
}

export interface InstallReport extends VerifiedPackage {
  readonly activation: Activation;
}

/** Checks a package folder completely (files, signature, self-test of every model file) without installing it. */
export async function verifyModelPackage(dir: string, options: VerifyOptions): Promise<VerifiedPackage> {
  const pkg = await readModelPackage(dir);
  await verifyPackageFiles(pkg);
  const signature = await readFile(join(dir, SIGNATURE_FILE)).catch(() => null);
  let signedBy: string | null = null;
  if (!options.skipSignature && (signature !== null || (options.requireSignature ?? true))) {
    if (options.trustedKeys.length === 0) {
      throw new FaceedgeError(
        'MODEL_SIGNATURE_INVALID',
        'no trusted public key is configured to check the package signature',
        {
          hint: 'install the .pub.pem of `faceedge model keygen` on the board as /etc/faceedge/model-signing.pub.pem (the daemon: models.public_key; the CLI: --public-key)',
        },
      );
    }
    signedBy = verifyManifestSignature(pkg.manifestBytes, signature, options.trustedKeys);
  }
  const selfTests: SelfTestResult[] = [];
  for (const f of pkg.files) {
    selfTests.push(await runModelSelfTest(join(dir, f.name), join(dir, MANIFEST_FILE), options.selfTest));
  }
  return { pkg, signedBy, selfTests, head: await verifyPairedHead(pkg, options) };
}

/** The head of a pair package checked beside its image model (head-package.ts); null for a package without one. */
async function verifyPairedHead(pkg: ModelPackage, options: VerifyOptions): Promise<VerifiedPackage['head']> {
  if (!hasHead(pkg.dir)) return null;
  const image = { id: pkg.manifest.id, labels: pkg.manifest.labels, sha256: servingFile(pkg).sha256 };
  const signedBy = await verifyHeadPackage(pkg.dir, { ...options, image, rules: options.head });
  return { id: (await readHeadPackage(join(pkg.dir, HEAD_FOLDER))).manifest.id, signedBy };
}

/** The store's version name of a package (with its head's manifest, for a pair). */
export async function packageVersion(pkg: ModelPackage): Promise<string> {
  const head = hasHead(pkg.dir) ? (await readHeadPackage(join(pkg.dir, HEAD_FOLDER))).manifestBytes : undefined;
  return versionName(pkg.manifest, pkg.manifestBytes, head);
}

/** Verifies a folder already inside the store's staging area and activates it; discards it on failure. */
export async function installStaged(store: ModelStore, staged: string, options: VerifyOptions): Promise<InstallReport> {
  return store.locked(async () => {
    try {
      const verified = await verifyModelPackage(staged, options);
      const activation = await store.activate(staged, await packageVersion(verified.pkg));
      return { ...verified, activation };
    } catch (err) {
      await store.discard(staged);
      throw err;
    }
  });
}

/**
 * Installs the package in `sourceDir`: only the manifest, its signature and the files it lists are copied; with
 * `headDir` (or a `head/` folder in `sourceDir`), the head's package too, as one version (a pair).
 */
export async function installModel(
  store: ModelStore,
  sourceDir: string,
  options: VerifyOptions,
  headDir: string | null = hasHead(sourceDir) ? join(sourceDir, HEAD_FOLDER) : null,
): Promise<InstallReport> {
  const staged = await store.stage();
  try {
    await copyPackage(sourceDir, staged);
    if (headDir !== null) {
      await mkdir(join(staged, HEAD_FOLDER));
      await copyPackage(headDir, join(staged, HEAD_FOLDER), (await readHeadPackage(headDir)).file.name);
    }
  } catch (err) {
    await store.discard(staged);
    throw err;
  }
  return installStaged(store, staged, options);
}

/**
 * Copies a package's manifest, signature (where there is one) and files into `dest`: the files its model
 * manifest lists, or `onlyFile` (a head's one `.tflite`).
 */
export async function copyPackage(sourceDir: string, dest: string, onlyFile?: string): Promise<void> {
  const names = onlyFile !== undefined ? [onlyFile] : (await readModelPackage(sourceDir)).files.map((f) => f.name);
  await copyFile(join(sourceDir, MANIFEST_FILE), join(dest, MANIFEST_FILE));
  await copyFile(join(sourceDir, SIGNATURE_FILE), join(dest, SIGNATURE_FILE)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  for (const name of names) {
    await copyFile(join(sourceDir, name), join(dest, name)).catch((cause: Error) => {
      throw new FaceedgeError(
        'MODEL_NOT_FOUND',
        `${join(sourceDir, name)}: listed in the manifest but unreadable: ${cause.message}`,
        { cause },
      );
    });
  }
}

/**
 * Goes back to `previous` after checking it again (files and self-test; the signature was checked
 * at install). The model rolled back from becomes `previous`, so a second rollback undoes the first.
 */
export async function rollbackModel(store: ModelStore, selfTest?: SelfTestOptions): Promise<Activation> {
  return store.locked(async () => {
    const previous = await store.previous();
    if (!previous) {
      throw new FaceedgeError('MODEL_NO_PREVIOUS', `no previous model in ${store.root} to roll back to`, {
        hint: 'rollback needs an earlier successful install',
      });
    }
    await verifyModelPackage(previous.dir, { trustedKeys: [], skipSignature: true, selfTest });
    return store.swapToPrevious();
  });
}
