/**
 * The board's `recognition:` section (issue 23): who is at the door. The recognition module owns it; the
 * board's config composes it (src/config/config-schema.ts). Off by default: a board recognizes people only
 * when an installer has made a gallery key and enrolled someone.
 */
import { z } from 'zod';
import { FaceedgeError } from '../errors.js';
import { bool, isObjectPayload, num } from '../schema/schema-helpers.js';

/** The gallery's file name under `state_dir` (the board's gallery; `faces --config` finds it there too). */
export const GALLERY_FILE_NAME = 'faces.gallery';

/** The one rule that an enabled recognition needs a key file, as the config check words it. */
const KEY_FILE_REQUIRED =
  'recognition.enabled needs recognition.key_file: the board keeps its gallery encrypted ' +
  '(faceedge faces keygen FILE makes a key)';

/** Best frames of a track that are embedded and matched, at most. */
export const DEFAULT_EMBEDDINGS_PER_TRACK = 3;

export const recognitionSchema = z
  .strictObject({
    /** Recognize enrolled people on every camera. Default false. */
    enabled: bool().default(false),
    /** The gallery file. Default `<state_dir>/faces.gallery`. */
    gallery: z.string().min(1).optional(),
    /**
     * The gallery's AES-256 key file (32 bytes, mode 0600; `faceedge faces keygen FILE` makes one). A secret:
     * never logged. Required when `enabled`: the board's gallery is never plain.
     */
    key_file: z.string().min(1).optional(),
    /**
     * The false-accept rate the site accepts, per comparison. Absent: the rate the embedder's threshold was
     * chosen for (its manifest's `recognition.far`). It can only tighten: a rate above the manifest's is refused
     * at start, since no threshold was measured for it.
     */
    far: num(z.number().gt(0).lt(1)).optional(),
    /** Lead over the second-best person a name needs, cosine similarity. Default: the manifest's `recognition.margin`. */
    margin: num(z.number().min(0).lt(1)).optional(),
    /** Best frames of each confirmed track that are embedded and matched, at most. Default 3. */
    embeddings_per_track: num(z.number().int().min(1).max(10)).default(DEFAULT_EMBEDDINGS_PER_TRACK),
    /** The embedder (.tflite, its manifest.json beside it). Default: the shipped `models/face-embed/`. */
    model: z.string().min(1).optional(),
  })
  .refine((r) => !r.enabled || r.key_file !== undefined, {
    message: KEY_FILE_REQUIRED,
    path: ['key_file'],
    when: isObjectPayload,
  });

export type RecognitionConfigInput = z.input<typeof recognitionSchema>;
export type ParsedRecognitionConfig = z.output<typeof recognitionSchema>;

/**
 * The gallery key file of an enabled `recognition` section. The config check (above) already refuses an
 * enabled section without one, so this throws only for a section built by hand: CONFIG_INVALID, with the
 * config check's words. Every user of the key reads it here instead of checking again.
 */
export function recognitionKeyFile(recognition: { readonly key_file?: string }): string {
  if (recognition.key_file === undefined) throw new FaceedgeError('CONFIG_INVALID', KEY_FILE_REQUIRED);
  return recognition.key_file;
}
