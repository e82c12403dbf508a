/**
 * A gallery package: a gallery file made on a workstation (encrypted under the site's gallery key), sent
 * to the boards of a site and signed with the same Ed25519 key as models (model-signature.ts). The
 * signature covers the manifest's exact bytes; the manifest names the gallery's id, version and embedding
 * model and the file's sha256, so one signature check and one hash prove the whole package.
 *
 * As JSON (the `faces/merge` bridge request's parameters, and the file `faceedge faces package` writes):
 *
 *   { "manifest": "<base64 of manifest.json>", "signature": "<manifest.sig text>", "gallery": "<base64>" }
 *
 * manifest.json: `{ "kind": "faceedge-gallery", "gallery_id", "version", "model": { "id", "dimensions" },
 * "sha256", "bytes", "created" }`.
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { FaceedgeError } from '../errors.js';
import { decodeGallery, type GalleryKey } from '../recognition/gallery-codec.js';
import type { GalleryContents } from '../recognition/gallery-contents.js';
import { sha256Hex } from './model-package.js';
import { signManifest, verifyManifestSignature } from './model-signature.js';

export const GALLERY_PACKAGE_KIND = 'faceedge-gallery';

/** Largest gallery file a package may carry, bytes: 8 MiB (thousands of people). */
export const MAX_GALLERY_PACKAGE_BYTES = 8 * 1024 * 1024;

const galleryManifestSchema = z.strictObject({
  kind: z.literal(GALLERY_PACKAGE_KIND),
  gallery_id: z.string().min(1).max(100),
  version: z.number().int().min(1),
  model: z.strictObject({ id: z.string().min(1), dimensions: z.number().int().min(1) }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().min(1).max(MAX_GALLERY_PACKAGE_BYTES),
  created: z.string(),
});
export type GalleryManifest = z.infer<typeof galleryManifestSchema>;

/** A gallery package as sent: base64 manifest and gallery, the signature as its text. */
export interface GalleryPackageJson {
  readonly manifest: string;
  readonly signature: string;
  readonly gallery: string;
}

/** A package whose signature, hash and contents were checked. */
export interface VerifiedGalleryPackage {
  readonly manifest: GalleryManifest;
  readonly contents: GalleryContents;
  /** The key id that signed it. */
  readonly signedBy: string;
}

/**
 * The package of the gallery file `galleryBytes` (read with `key`, to state its id, version and model),
 * signed with `privateKey`. Throws what decoding the gallery can, and GALLERY_INVALID for an empty one.
 */
export function makeGalleryPackage(
  galleryBytes: Buffer,
  key: GalleryKey | null,
  privateKey: KeyObject,
  now = new Date(),
): GalleryPackageJson {
  const contents = decodeGallery(galleryBytes, key, 'the gallery');
  if (contents.version === 0) throw new FaceedgeError('GALLERY_INVALID', 'the gallery is empty: nothing to push');
  const manifest: GalleryManifest = {
    kind: GALLERY_PACKAGE_KIND,
    gallery_id: contents.galleryId,
    version: contents.version,
    model: { id: contents.model.id, dimensions: contents.model.dimensions },
    sha256: sha256Hex(galleryBytes),
    bytes: galleryBytes.length,
    created: now.toISOString(),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  return {
    manifest: manifestBytes.toString('base64'),
    signature: signManifest(manifestBytes, privateKey),
    gallery: galleryBytes.toString('base64'),
  };
}

/**
 * Checks a received package: the signature against `trusted` (MODEL_SIGNATURE_INVALID), the manifest and the
 * gallery's sha256 (GALLERY_INVALID), then decodes the gallery with the board's `key` and checks it is the
 * gallery the manifest names (id, version, model). Never merges: see gallery-push.ts.
 */
export function verifyGalleryPackage(
  params: unknown,
  trusted: readonly KeyObject[],
  key: GalleryKey,
): VerifiedGalleryPackage {
  const pkg = packageJson(params);
  const manifestBytes = Buffer.from(pkg.manifest, 'base64');
  const signedBy = verifyManifestSignature(manifestBytes, pkg.signature, trusted);
  let manifest: GalleryManifest;
  try {
    manifest = galleryManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  } catch (cause) {
    throw new FaceedgeError(
      'GALLERY_INVALID',
      `the gallery package's manifest is not one: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const galleryBytes = Buffer.from(pkg.gallery, 'base64');
  if (galleryBytes.length !== manifest.bytes || sha256Hex(galleryBytes) !== manifest.sha256)
    throw new FaceedgeError('GALLERY_INVALID', 'the gallery is not the one its signed manifest names (sha256)');
  const contents = decodeGallery(galleryBytes, key, 'the pushed gallery');
  if (
    contents.galleryId !== manifest.gallery_id ||
    contents.version !== manifest.version ||
    contents.model.id !== manifest.model.id ||
    contents.model.dimensions !== manifest.model.dimensions
  )
    throw new FaceedgeError('GALLERY_INVALID', 'the gallery does not match its signed manifest (id, version or model)');
  return { manifest, contents, signedBy };
}

function packageJson(params: unknown): GalleryPackageJson {
  const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
  const { manifest, signature, gallery } = p;
  if (typeof manifest !== 'string' || typeof signature !== 'string' || typeof gallery !== 'string') {
    throw new FaceedgeError('REQUEST_INVALID', 'a gallery package is {"manifest", "signature", "gallery"}, strings', {
      hint: 'faceedge faces package <gallery> --sign-key <private.pem> writes one',
    });
  }
  if (gallery.length > Math.ceil(MAX_GALLERY_PACKAGE_BYTES / 3) * 4 || manifest.length > 64 * 1024)
    throw new FaceedgeError(
      'REQUEST_INVALID',
      `a gallery package may carry at most ${MAX_GALLERY_PACKAGE_BYTES} bytes`,
    );
  return { manifest, signature, gallery };
}
