/**
 * `models/liveness/manifest.json`: what travels with the passive anti-spoofing network (written by
 * `faceedge_train.liveness.export`). The one definition of its contract: the crop geometry, the input's
 * range, which output is "live", the threshold and its measured operating point, the self-test, sha256.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { FaceedgeError } from '../errors.js';
import type { AntiSpoofCropGeometry } from './anti-spoof-crop.js';

const fileEntry = z
  .object({
    path: z.string(),
    dtype: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive(),
  })
  .loose();

export const antiSpoofManifestSchema = z
  .object({
    id: z.string().min(1),
    task: z.literal('presentation-attack-detection'),
    /** Output classes in order; `live_index` names the bona fide one. */
    classes: z.array(z.string()).min(2),
    live_index: z.number().int().nonnegative(),
    /** What the output tensor holds: logits (the runtime takes the softmax). */
    output: z.object({ kind: z.literal('logits') }).loose(),
    input: z
      .object({
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        channels: z.literal(3),
        color: z.literal('RGB'),
        /** Pixel values are fed as they are (0..255), no mean or scale. */
        range: z.tuple([z.literal(0), z.literal(255)]),
      })
      .loose(),
    crop: z.object({
      kind: z.literal('detector-box'),
      size: z.number().int().positive(),
      scale: z.number().positive(),
      box_map: z.object({
        centre_x: z.number(),
        centre_y: z.number(),
        width: z.number().positive(),
        height: z.number().positive(),
      }),
    }),
    /** P(live) below this is an attack; chosen on measured data (see `operating_point`). */
    threshold: z.number().gt(0).lt(1),
    files: z.record(z.string(), fileEntry),
    selftest: z.array(z.object({ png_base64: z.string(), expected_logits: z.array(z.number()) }).loose()).min(1),
  })
  .loose();

export type AntiSpoofManifest = z.infer<typeof antiSpoofManifestSchema>;

/** The crop geometry a manifest records, in the runtime's terms. */
export function cropGeometryOf(manifest: AntiSpoofManifest): AntiSpoofCropGeometry {
  const m = manifest.crop.box_map;
  return {
    size: manifest.crop.size,
    scale: manifest.crop.scale,
    boxMap: { centreX: m.centre_x, centreY: m.centre_y, width: m.width, height: m.height },
  };
}

/**
 * Reads and validates the manifest next to `modelPath` (or at `manifestPath`) and checks the model bytes
 * against its sha256. Throws FaceedgeError MODEL_INVALID or MODEL_CHECKSUM_MISMATCH.
 */
export async function loadAntiSpoofManifest(
  modelPath: string,
  modelBytes: Buffer,
  manifestPath = join(dirname(modelPath), 'manifest.json'),
): Promise<AntiSpoofManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (cause) {
    throw new FaceedgeError('MODEL_INVALID', `cannot read ${manifestPath}: ${(cause as Error).message}`, {
      hint: 'the anti-spoofing model travels with the manifest.json written by faceedge_train.liveness.export',
      cause,
    });
  }
  const parsed = antiSpoofManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FaceedgeError('MODEL_INVALID', `invalid anti-spoofing manifest ${manifestPath}: ${problems}`);
  }
  const manifest = parsed.data;
  if (manifest.live_index >= manifest.classes.length) {
    throw new FaceedgeError('MODEL_INVALID', `${manifestPath}: live_index ${manifest.live_index} is not a class`);
  }
  const file = Object.values(manifest.files).find((f) => basename(f.path) === basename(modelPath));
  if (!file) throw new FaceedgeError('MODEL_INVALID', `${manifestPath} does not list ${basename(modelPath)}`);
  const sha256 = createHash('sha256').update(modelBytes).digest('hex');
  if (sha256 !== file.sha256) {
    throw new FaceedgeError(
      'MODEL_CHECKSUM_MISMATCH',
      `${modelPath}: sha256 ${sha256} is not the manifest's ${file.sha256}`,
      {
        hint: 'the model file is corrupt or was replaced without its manifest',
      },
    );
  }
  return manifest;
}
