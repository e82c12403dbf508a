/**
 * Model push over MQTT, shared by the sender (`faceedge model push --mqtt`) and the board's
 * ModelPushReceiver. Under `<base>/<dev>/model/push/<transfer id>/` (topics: `MqttTopics.modelPushPart`):
 *
 *   begin    sender → board  TransferPlan (JSON): files in stream order, chunk size, totals, the model claimed
 *   <n>      sender → board  chunk n of the concatenated files, base64 text (n from 0)
 *   commit   sender → board  "everything sent": the board checks for gaps, then installs
 *   status   board → sender  TransferStatus (JSON): missing chunks, or the install's outcome
 *
 * The transfer id is derived from the content (manifest + signature + chunk size), so pushing the
 * same package again — after a dropped connection, a killed sender or a rebooted board — resumes:
 * the board keeps received chunks on disk and `begin` answers with only what is still missing.
 *
 * What a board accepts (the receiver enforces it at `begin`, before a chunk is stored, and answers
 * `failed` with the code):
 * - pushes are off without a trusted signing key (`MODEL_PUSH_DISABLED`): nothing could vouch for the
 *   package, so nothing of it is written;
 * - one transfer at a time (`MODEL_PUSH_BUSY`); the same transfer id resumes;
 * - at most `MAX_PACKAGE_BYTES` per package (`REQUEST_INVALID`), and the transfer store never holds more
 *   than its byte budget (`MODEL_PUSH_NO_SPACE`, `models.push.budget_bytes`);
 * - the state directory's file system must have room for the bytes still to come, the assembled copy and
 *   a reserve (`MODEL_PUSH_NO_SPACE`, the figures in the message);
 * - a transfer that gets no chunk for the stall timeout (`models.push.stall_timeout_s`, 120 s) is
 *   abandoned (`MODEL_TRANSFER_FAILED`).
 * A refused, failed or abandoned transfer's chunks are deleted at once; so are an installed one's.
 *
 * After a restart, chunks left on disk are resumable only when they are one transfer's and within the
 * limits above: the newest leftover within them is kept (until it is resumed, another transfer begins,
 * or one stall timeout passes without a chunk), every other one is deleted; all are deleted on a board
 * where pushes are off.
 *
 * A pair (issue 24 §3: an image model and its head on the face embedding, src/model-push/head-package.ts) is one
 * transfer: the head's package files follow the model's, named `head/manifest.json`, `head/manifest.sig` and
 * `head/<file>`, and the board installs both as one version. A head alone (`head/…` files only, retrained for the
 * image model the board serves) is installed as a new version of the serving model with that head.
 *
 * Compatibility: `begin`'s optional `model` (the claim) is new; a board from before it refuses a plan
 * that carries it (its plan schema is strict), so update boards before the workstations that push.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Default chunk size: 64 KiB of model bytes (≈ 87 KiB of base64 per message). */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;
/** Largest package a board accepts, bytes: 64 MiB (the shipped int8+float package is under 2 MiB). */
export const MAX_PACKAGE_BYTES = 64 * 1024 * 1024;
/** A transfer with no chunk for this long is abandoned and its chunks deleted, ms. Default 120 s. */
export const DEFAULT_STALL_TIMEOUT_MS = 120_000;
const TRANSFER_ID = /^[0-9a-f]{32}$/;

export function isTransferId(id: string): boolean {
  return TRANSFER_ID.test(id);
}

/**
 * Content-derived id: the same package and chunk size (for the same named model) always map to the same
 * transfer. Without a name the id is what it was before models had names.
 */
export function transferIdFor(
  manifestBytes: Buffer,
  signatureBytes: Buffer | null,
  chunkSize: number,
  modelName?: string,
  /** A pair's or a lone head's manifest and signature bytes (a push with a head is another transfer). */
  headBytes?: Buffer,
): string {
  const hash = createHash('sha256')
    .update(manifestBytes)
    .update(signatureBytes ?? Buffer.alloc(0))
    .update(String(chunkSize));
  if (modelName !== undefined) hash.update(`\0model:${modelName}`);
  if (headBytes !== undefined) hash.update('\0head:').update(headBytes);
  return hash.digest('hex').slice(0, 32);
}

/** Prefix of a head's files in a transfer (its folder in the package, HEAD_FOLDER). */
export const HEAD_PREFIX = 'head/';

export const transferFileSchema = z.strictObject({
  /** A plain file name, or one in the head's folder (`head/<plain name>`). */
  name: z
    .string()
    .regex(/^(head\/)?[A-Za-z0-9._-]{1,200}$/)
    .refine((n) => !['.', '..'].includes(n.replace(HEAD_PREFIX, '')), 'not a file name'),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** Largest `begin` message (a TransferPlan), bytes: 64 KiB, checked before it is parsed. */
export const MAX_PUSH_BEGIN_BYTES = 64 * 1024;

export const transferPlanSchema = z
  .strictObject({
    /** Files in stream order; `manifest.json` first (a head alone: `head/manifest.json`). */
    files: z.array(transferFileSchema).min(1),
    chunk_size: z.number().int().min(1024).max(MAX_CHUNK_SIZE),
    total_bytes: z.number().int().min(1),
    total_chunks: z.number().int().min(1),
    /**
     * The model the sender says this is (`manifest.id`, and the store's version name for these manifest
     * bytes), for the board's log line at `begin`. A claim only: the board checks it against the received
     * manifest before installing. Optional, so a board still takes a plan from an older sender.
     */
    model: z
      .strictObject({
        id: z.string().min(1).max(200),
        version: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
      })
      .optional(),
    /**
     * Which of the board's models (`classifiers[].name`) this package is for; absent: the first model. A
     * board without a model of that name refuses the `begin` (`MODEL_NOT_FOUND`) before storing a byte.
     * Optional and sent only when named, so pushes to the first model still reach boards from before it.
     */
    name: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,100}$/, 'a model name is letters, digits, "_" and "-"')
      .optional(),
  })
  .refine(
    (p) => p.total_bytes === p.files.reduce((a, f) => a + f.bytes, 0),
    'total_bytes is not the sum of the file sizes',
  )
  .refine(
    (p) => p.total_chunks === Math.ceil(p.total_bytes / p.chunk_size),
    'total_chunks does not match total_bytes / chunk_size',
  )
  .refine(
    (p) => p.files[0]?.name === 'manifest.json' || p.files[0]?.name === `${HEAD_PREFIX}manifest.json`,
    'the first file must be manifest.json (or head/manifest.json for a head alone)',
  )
  .refine(
    (p) =>
      !p.files.some((f) => f.name.startsWith(HEAD_PREFIX)) ||
      p.files.some((f) => f.name === `${HEAD_PREFIX}manifest.json`),
    'head files without head/manifest.json',
  )
  .refine(
    (p) => p.files[0]?.name === 'manifest.json' || p.files.every((f) => f.name.startsWith(HEAD_PREFIX)),
    'a head alone carries only head/ files',
  )
  .refine((p) => new Set(p.files.map((f) => f.name)).size === p.files.length, 'a file is listed twice');
export type TransferPlan = z.infer<typeof transferPlanSchema>;

/** Inclusive [first, last] chunk ranges, so a status message stays small for big gaps. */
export type ChunkRanges = Array<[number, number]>;

export interface TransferStatus {
  readonly state: 'receiving' | 'verifying' | 'installed' | 'failed';
  readonly received?: number;
  readonly total?: number;
  readonly missing?: ChunkRanges;
  /** With `installed`: what now serves. */
  readonly model?: {
    id: string;
    version: string;
    signed_by: string | null;
    previous: string | null;
    unchanged: boolean;
    /** The head serving with it (a pair), null without one; absent from boards before pairs were pushed. */
    head?: { id: string; signed_by: string | null } | null;
  };
  /** With `failed`: the typed error that refused the package (the old model keeps serving). */
  readonly error?: { code: string; message: string; hint?: string };
}

export function toRanges(sorted: readonly number[]): ChunkRanges {
  const out: ChunkRanges = [];
  for (const n of sorted) {
    const last = out.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

export function fromRanges(ranges: ChunkRanges): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let n = a; n <= b; n++) out.push(n);
  return out;
}

/** Bytes chunk `n` must have under `plan`. */
export function chunkLength(plan: TransferPlan, n: number): number {
  return Math.min(plan.chunk_size, plan.total_bytes - n * plan.chunk_size);
}
