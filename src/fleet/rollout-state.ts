/**
 * The rollout's state file: which package goes to which boards in which waves, and each board's
 * outcome so far. Written atomically (temp file + rename) after every change, so a workstation killed
 * mid-wave resumes from it: boards already healthy or skipped are not pushed again, boards caught
 * mid-push are pushed again (the transfer resumes and the board's install is idempotent) and gated.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import type { RateSample } from './health-gate.js';

/**
 * A board's progress: `pending` → `pushing` → `switched` (installed, in soak) → `healthy`; or `skipped`
 * (already on the package's sha256), `failed` (refused, offline, unhealthy), `rolled-back`,
 * `rollback-failed`; `untouched` once the rollout stopped before reaching it.
 */
export type BoardState =
  | 'pending'
  | 'pushing'
  | 'switched'
  | 'healthy'
  | 'skipped'
  | 'failed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'untouched';

export interface BoardProgress {
  state: BoardState;
  /** sha256 of the model file it served before this rollout touched it. */
  previous_sha256: string | null;
  /** True once the board switched to the package in this rollout (it is rolled back when the rollout stops). */
  switched: boolean;
  /**
   * True once a push to it started: from then on it may serve the package even when the push failed
   * (it switched, and its answer was lost), so a stopping rollout asks it and rolls it back if it did.
   */
  push_started: boolean;
  /** Its own rates just before its push and from its switch to its gate (the gate's figures). */
  rates: { before: RateSample | null; after: RateSample | null };
  /** sha256 it answered to serve when the rollout stopped (null: not asked, or no answer). */
  serving_at_stop: string | null;
  /** Why it failed / why it was not rolled back. */
  error: string | null;
  /** ISO time of the last change. */
  at: string;
}

/** What a rollout pushes, and to which of each board's models. */
export interface RolloutPackage {
  readonly dir: string;
  readonly id: string;
  readonly sha256: string;
  /** The model per face it replaces (`classifiers[].name`); absent: each board's first model. */
  readonly name?: string;
  /**
   * The sha256 of the head package's manifest pushed with it as a pair; absent: no head. The gate compares the image
   * model only, so a rollout of the same image model with another head is another rollout.
   */
  readonly head?: string;
}

export interface RolloutState {
  readonly format: 1;
  /**
   * The package: its folder, manifest id and the sha256 of the file the boards will serve, and the board model it
   * goes to (`name`, `fleet push --name`; absent: the first model, as in state files from before model names).
   */
  readonly package: RolloutPackage;
  readonly waves: readonly (readonly string[])[];
  status: 'running' | 'completed' | 'stopped';
  stop_reason: string | null;
  readonly started_at: string;
  updated_at: string;
  readonly boards: Record<string, BoardProgress>;
}

export function newRolloutState(pkg: RolloutState['package'], waves: readonly (readonly string[])[]): RolloutState {
  const now = new Date().toISOString();
  const boards: Record<string, BoardProgress> = {};
  for (const d of waves.flat()) boards[d] = newBoardProgress(now);
  return {
    format: 1,
    package: pkg,
    waves,
    status: 'running',
    stop_reason: null,
    started_at: now,
    updated_at: now,
    boards,
  };
}

function newBoardProgress(at: string): BoardProgress {
  return {
    state: 'pending',
    previous_sha256: null,
    switched: false,
    push_started: false,
    rates: { before: null, after: null },
    serving_at_stop: null,
    error: null,
    at,
  };
}

/** The state in `path`, or null when there is none. A file that is not a rollout state is an error. */
export async function readRolloutState(path: string): Promise<RolloutState | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FaceedgeError('USAGE', `cannot read the rollout state ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const s = JSON.parse(text) as RolloutState;
    if (s.format !== 1 || !s.package?.sha256 || !Array.isArray(s.waves) || typeof s.boards !== 'object')
      throw new Error('not a faceedge rollout state');
    // Files written before push_started existed: a board that got past `pending` may have been pushed.
    for (const b of Object.values(s.boards)) {
      const fresh = newBoardProgress(b.at);
      b.push_started ??= b.switched || !['pending', 'skipped', 'untouched'].includes(b.state);
      b.rates ??= fresh.rates;
      b.serving_at_stop ??= null;
    }
    return s;
  } catch (cause) {
    throw new FaceedgeError('USAGE', `${path} is not a readable rollout state: ${(cause as Error).message}`, {
      hint: 'pass another --state file, or remove it to start over',
      cause,
    });
  }
}

/**
 * Owns one rollout's state and its file: every change goes through `update`, and writes are queued so
 * concurrent pushes (several boards at once) never interleave a write.
 */
export class RolloutStateFile {
  #queue: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    readonly state: RolloutState,
  ) {}

  /** Sets a board's state (and error), stamps it and writes the file. */
  board(device: string, state: BoardState, patch: Partial<Omit<BoardProgress, 'state' | 'at'>> = {}): Promise<void> {
    const b = this.state.boards[device];
    Object.assign(b, patch, { state, at: new Date().toISOString() });
    return this.save();
  }

  finish(status: 'completed' | 'stopped', reason: string | null = null): Promise<void> {
    this.state.status = status;
    this.state.stop_reason = reason;
    return this.save();
  }

  /** Writes the current state (queued behind earlier writes). */
  save(): Promise<void> {
    this.state.updated_at = new Date().toISOString();
    const text = JSON.stringify(this.state, null, 2) + '\n';
    const run = this.#queue.then(async () => {
      const tmp = `${this.path}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, this.path);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
