/**
 * The per-epoch training log a model manifest may carry (`history`, or `training.history` in older
 * exports): one record per epoch as `faceedge_train.train` printed it.
 */
import { z } from 'zod';
import type { ModelManifest } from '../inference/model-manifest.js';

const epochRecord = z
  .object({
    epoch: z.number().int().nonnegative(),
    train_loss: z.number().optional(),
    val_loss: z.number().optional(),
    train_acc: z.number().optional(),
    val_acc: z.number().optional(),
    val_auc: z.number().nullable().optional(),
    lr: z.number().optional(),
  })
  .loose();

export type EpochRecord = z.infer<typeof epochRecord>;

/**
 * The manifest's history sorted by epoch, or null when it has none or it is malformed (a report
 * then skips the learning curves with a note rather than failing the evaluation).
 */
export function trainingHistory(manifest: ModelManifest): EpochRecord[] | null {
  const training = manifest.training as { history?: unknown } | undefined;
  const raw = manifest.history ?? training?.history;
  const parsed = z.array(epochRecord).min(1).safeParse(raw);
  return parsed.success ? [...parsed.data].sort((a, b) => a.epoch - b.epoch) : null;
}
