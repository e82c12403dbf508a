/**
 * Model push over MQTT, shared by the sender (`faceedge model push --mqtt`) and the board's
 * ModelPushReceiver. Under `<base>/<dev>/model/push/<transfer id>/` (topics: `MqttTopics.modelPushPart`):
 *
 *   begin    sender → board  TransferPlan (JSON): files in stream order, chunk size, totals
 *   <n>      sender → board  chunk n of the concatenated files, base64 text (n from 0)
 *   commit   sender → board  "everything sent": the board checks for gaps, then installs
 *   status   board → sender  TransferStatus (JSON): missing chunks, or the install's outcome
 *
 * The transfer id is derived from the content (manifest + signature + chunk size), so pushing the
 * same package again — after a dropped connection, a killed sender or a rebooted board — resumes:
 * the board keeps received chunks on disk and `begin` answers with only what is still missing.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Default chunk size: 64 KiB of model bytes (≈ 87 KiB of base64 per message). */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;
const TRANSFER_ID = /^[0-9a-f]{32}$/;

export function isTransferId(id: string): boolean {
  return TRANSFER_ID.test(id);
}

/** Content-derived id: the same package and chunk size always map to the same transfer. */
export function transferIdFor(manifestBytes: Buffer, signatureBytes: Buffer | null, chunkSize: number): string {
  return createHash('sha256')
    .update(manifestBytes)
    .update(signatureBytes ?? Buffer.alloc(0))
    .update(String(chunkSize))
    .digest('hex')
    .slice(0, 32);
}

export const transferFileSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/)
    .refine((n) => n !== '.' && n !== '..', 'not a file name'),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const transferPlanSchema = z
  .strictObject({
    /** Files in stream order; `manifest.json` first. */
    files: z.array(transferFileSchema).min(1),
    chunk_size: z.number().int().min(1024).max(MAX_CHUNK_SIZE),
    total_bytes: z.number().int().min(1),
    total_chunks: z.number().int().min(1),
  })
  .refine(
    (p) => p.total_bytes === p.files.reduce((a, f) => a + f.bytes, 0),
    'total_bytes is not the sum of the file sizes',
  )
  .refine(
    (p) => p.total_chunks === Math.ceil(p.total_bytes / p.chunk_size),
    'total_chunks does not match total_bytes / chunk_size',
  )
  .refine((p) => p.files[0]?.name === 'manifest.json', 'the first file must be manifest.json')
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
