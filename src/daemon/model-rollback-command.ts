/**
 * The `model/rollback` bridge command: the operator's (or `faceedge fleet push`'s) way to put a board
 * back on the model it served before the last install, without a shell on the board.
 *
 * Request `{ "if_sha256": "<hex>" }` (optional): roll back only while the board still serves that model
 * file, so a rollout that is resumed, or retried after a lost response, never rolls back twice (a second
 * rollback would undo the first). Response data: `{ rolled_back, from, model, source }`, where `source`
 * is `previous` (the store's previous package, re-checked) or `configured` (the board's first install
 * was rolled back: `classifier.model` serves again).
 *
 * With several models per face (`classifiers:`), `{ "name": "<model>" }` picks the model (its own store);
 * absent: the first model, as before. Deps are called with that name (undefined: the first).
 */
import { z } from 'zod';
import { SerialQueue } from '../concurrency/serial-queue.js';
import { FaceedgeError } from '../errors.js';
import type { BridgeHandler } from '../mqtt/bridge-dispatcher.js';
import type { ModelUpdates } from './model-updates.js';

export interface ServingModel {
  readonly id: string;
  readonly sha256: string;
}

export interface ModelRollbackDeps {
  /** Null until model updates have started. */
  readonly updates: (name?: string) => Pick<ModelUpdates, 'rollback'> | null;
  /** The model the daemon serves now (as `name`). */
  readonly serving: (name?: string) => ServingModel | null;
  /** Loads the configured `classifier.model` (of `name`) (when the store has no model left to serve). */
  readonly serveConfigured: (name?: string) => Promise<void>;
}

const paramsSchema = z.strictObject({
  if_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** Which model (`classifiers[].name`); default the first. */
  name: z.string().min(1).optional(),
});

export function modelRollbackHandler(deps: ModelRollbackDeps): BridgeHandler {
  // One rollback at a time: the if_sha256 check and the swap must not interleave with another request's.
  const queue = new SerialQueue();
  return (raw) => queue.run(() => rollback(deps, raw));
}

async function rollback(deps: ModelRollbackDeps, raw: unknown) {
  const parsed = paramsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new FaceedgeError(
      'REQUEST_INVALID',
      `model/rollback: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
      {
        hint: 'send {} or {"if_sha256":"<sha256 of the model file to roll back from>"}',
      },
    );
  }
  const name = parsed.data.name;
  const updates = deps.updates(name);
  if (!updates)
    throw new FaceedgeError('MODEL_INVALID', 'model updates are not running yet', {
      hint: 'retry once the daemon is up',
    });
  const from = deps.serving(name);
  const want = parsed.data.if_sha256;
  if (want !== undefined && from?.sha256 !== want) {
    return {
      rolled_back: false,
      from,
      model: from,
      source: null,
      reason: `not serving ${want.slice(0, 12)}…: nothing to roll back`,
    };
  }
  const source = await updates.rollback();
  if (source === 'configured') await deps.serveConfigured(name);
  return { rolled_back: true, from, model: deps.serving(name), source };
}
