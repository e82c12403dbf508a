/**
 * How a rollout stops: it asks every board of the rollout which model it serves now, and rolls back
 * every board that serves the package because of this rollout — the boards it switched, and also any
 * board whose push failed after the board had switched (its answer was lost, the sender gave up while
 * it was installing). What the rollout's own bookkeeping believes is not enough: only the board knows.
 * Boards that served the package before the rollout (`skipped`) are left alone.
 */
import { mapWithLimit } from '../concurrency/map-with-limit.js';
import { isFaceedgeError } from '../errors.js';
import type { BridgeResponse } from '../mqtt/bridge-dispatcher.js';
import type { FleetConnection } from './fleet-connection.js';
import { modelOf } from './fleet-view.js';
import { healthServes } from './health-gate.js';
import type { BoardProgress, RolloutPackage, RolloutStateFile } from './rollout-state.js';

export interface StopContext {
  readonly fleet: FleetConnection;
  readonly st: RolloutStateFile;
  /** The package being rolled out, and the model it addresses (`name`; absent: the first). */
  readonly target: RolloutPackage;
  /** Boards asked and rolled back at once. */
  readonly concurrency: number;
  readonly log: (line: string) => void;
  /**
   * Tries of each health_check and rollback that gets no answer (a loaded board may answer after the
   * timeout; both are safe to repeat: the rollback is guarded by the package's sha256). Default 3.
   */
  readonly attempts?: number;
  /** Pause before the second try, ms, doubled for each next one. Default 2000. */
  readonly retryPauseMs?: number;
}

/** What a board answered it serves, or why there is no answer. */
type Serving = { readonly sha256: string | null } | { readonly error: string };

const short = (sha: string | null | undefined) => (sha ? `${sha.slice(0, 12)}…` : 'none');
const RETURN_HINT =
  'roll it back when it returns (faceedge model rollback on the board, or the model/rollback request)';

/** Asks every board, rolls back the changed ones, marks the rest, and records the stop with `reason`. */
export async function stopRollout(ctx: StopContext, reason: string): Promise<void> {
  const { st, log } = ctx;
  log(`stopping the rollout: ${reason}`);
  const boards = st.state.boards;
  for (const [d, p] of Object.entries(boards)) if (p.state === 'pending') await st.board(d, 'untouched');
  const asked = Object.keys(boards).filter((d) => boards[d].state !== 'skipped');
  log(`asking ${asked.length} boards which model they serve`);
  await mapWithLimit(asked, ctx.concurrency, (d) => settleBoard(ctx, d));
  await st.finish('stopped', reason);
}

/** A board may have changed in this rollout once a push to it started (or it was seen switched). */
function mayHaveChanged(p: BoardProgress): boolean {
  return p.push_started || p.switched;
}

async function settleBoard(ctx: StopContext, d: string): Promise<void> {
  const { st, target, log } = ctx;
  const p = st.state.boards[d];
  const serving = await askServing(ctx, d);
  const keep = p.state === 'failed' && p.error ? `${p.error}; ` : '';
  if ('error' in serving) {
    if (!mayHaveChanged(p)) return;
    const lastKnown = modelOf(ctx.fleet.view.board(d), target.name)?.sha256 ?? null;
    if (p.switched || lastKnown === target.sha256 || lastKnown === null) {
      await st.board(d, 'rollback-failed', {
        error: `${keep}${serving.error}; its last bridge/info names ${short(lastKnown)}: ${RETURN_HINT}`,
      });
      log(`${d}: ${serving.error}, NOT rolled back`);
    } else {
      await st.board(d, p.state, { error: `${keep}${serving.error}; its last bridge/info names the previous model` });
    }
    return;
  }
  await st.board(d, p.state, { serving_at_stop: serving.sha256 });
  if (serving.sha256 !== target.sha256) {
    if (p.switched) {
      // Switched in this rollout and no longer serving the package (it restarted on another, or an
      // operator rolled it back already): nothing left to undo.
      await st.board(d, 'rolled-back', { error: `${keep}already serves ${short(serving.sha256)}` });
      log(`${d}: already back on ${short(serving.sha256)}`);
    }
    return;
  }
  if (!mayHaveChanged(p)) {
    log(`${d}: serves the package although this rollout never pushed it; left as it is`);
    return;
  }
  if (!p.switched) log(`${d}: serves the package although its push failed: rolling it back`);
  await rollBack(ctx, d, keep);
}

async function rollBack(ctx: StopContext, d: string, keep: string): Promise<void> {
  const { st, target, log } = ctx;
  const p = st.state.boards[d];
  try {
    // Guarded by the sha256: a rollback that is retried (or raced) never undoes the one before it.
    // By name: only the model this rollout pushed goes back; the board's other models are not touched.
    const r = await requestAnswered(
      ctx,
      d,
      'model/rollback',
      { if_sha256: target.sha256, ...(target.name === undefined ? {} : { name: target.name }) },
      60_000,
    );
    if (r.status !== 'ok') throw new Error(r.error ?? 'refused');
    const data = r.data as { rolled_back?: boolean; model?: { sha256?: string } | null };
    const now = data.model?.sha256 ?? null;
    if (now === target.sha256 || (data.rolled_back === true && p.previous_sha256 !== null && now !== p.previous_sha256))
      throw new Error(`serves ${short(now)} after the rollback, expected ${short(p.previous_sha256)}`);
    await st.board(d, 'rolled-back', { switched: true, serving_at_stop: now, error: keep ? keep.slice(0, -2) : null });
    log(`${d}: rolled back to ${short(now)}`);
  } catch (err) {
    await st.board(d, 'rollback-failed', { switched: true, error: `${keep}rollback: ${(err as Error).message}` });
    log(`${d}: ROLLBACK FAILED ${(err as Error).message}`);
  }
}

/**
 * The model `d` serves in the place the rollout addresses (the named model, else the first), from its own
 * health_check (not its retained bridge/info, which may be old).
 */
async function askServing(ctx: StopContext, d: string): Promise<Serving> {
  if (ctx.fleet.view.board(d)?.online === false) return { error: 'offline' };
  try {
    const r = await requestAnswered(ctx, d, 'health_check', {}, 30_000);
    if (r.status !== 'ok') return { error: `health_check error: ${r.error ?? 'unknown'}` };
    return { sha256: healthServes(r.data, ctx.target.name) ?? null };
  } catch (err) {
    return { error: `did not answer: ${(err as Error).message}` };
  }
}

/**
 * `fleet.request`, asked again (up to `attempts` tries, pausing 2, 4 … s) while the board gives no answer
 * and is not seen offline: a board busy installing or reloading answers late, and one lost answer must
 * not leave it switched. An answer, even an error, is returned at once.
 */
async function requestAnswered(
  ctx: StopContext,
  d: string,
  command: string,
  params: Record<string, unknown>,
  timeoutMs: number,
): Promise<BridgeResponse> {
  const attempts = ctx.attempts ?? 3;
  for (let i = 1; ; i++) {
    try {
      return await ctx.fleet.request(d, command, params, timeoutMs);
    } catch (err) {
      const noAnswer = isFaceedgeError(err, 'MQTT_FAILED');
      if (!noAnswer || i >= attempts || ctx.fleet.view.board(d)?.online === false) throw err;
      const pauseMs = (ctx.retryPauseMs ?? 2000) * 2 ** (i - 1);
      ctx.log(
        `${d}: ${(err as Error).message}; asking again in ${(pauseMs / 1000).toFixed(1)} s (${i + 1}/${attempts})`,
      );
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}
