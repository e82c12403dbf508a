/**
 * The fleet-sim's rollout scenarios. Each one checks, before it starts, that it can do what it names
 * (the boards it must push do not already serve the package), and afterwards that it did: its checks
 * are part of its report, and a scenario that could not run or did something else fails.
 */
import { sha256 } from '../test/helpers/model-package-fixture.js';
import type { BoardSpec, TestFleet } from '../test/helpers/fleet-boards.js';
import { FleetConnection } from '../src/fleet/fleet-connection.js';
import { fleetStatus } from '../src/fleet/fleet-status.js';
import { runRollout, type RolloutOptions } from '../src/fleet/rollout.js';
import { readRolloutState, type RolloutState } from '../src/fleet/rollout-state.js';

export interface Check {
  readonly what: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface ScenarioReport {
  readonly name: string;
  ok: boolean;
  checks: Check[];
  status?: string;
  stop_reason?: string | null;
  waves?: number[];
  outcomes?: Record<string, number>;
  error?: string;
  [key: string]: unknown;
}

export interface SimContext {
  readonly fleet: TestFleet;
  readonly brokerUrl: string;
  /** The boards tagged `sim`, in id order, and the one provisioned with another signing key. */
  readonly sims: readonly BoardSpec[];
  readonly odd: BoardSpec;
  /** Rollout options every scenario shares (state file under `statePath(name)`). */
  readonly options: (state: string) => Omit<RolloutOptions, 'packageDir' | 'selector'>;
  readonly log: (line: string) => void;
  /** A board's recent warnings and push/model/MQTT log lines, for the report of a scenario that failed. */
  readonly boardLog: (device: string) => string[];
}

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

/** A scenario's report builder: `check()` records, `done()` decides `ok`. */
function report(name: string): ScenarioReport & { check(what: string, ok: boolean, detail?: unknown): boolean } {
  const r: ScenarioReport = { name, ok: false, checks: [] };
  return Object.assign(r, {
    check(what: string, ok: boolean, detail?: unknown) {
      r.checks.push(ok || detail === undefined ? { what, ok } : { what, ok, detail: String(detail) });
      return ok;
    },
  });
}

function finish(r: ScenarioReport, state?: RolloutState): ScenarioReport {
  if (state) {
    const outcomes: Record<string, number> = {};
    for (const b of Object.values(state.boards)) outcomes[b.state] = (outcomes[b.state] ?? 0) + 1;
    Object.assign(r, { status: state.status, stop_reason: state.stop_reason, waves: state.waves.map((w) => w.length) });
    r.outcomes = outcomes;
  }
  r.ok = r.error === undefined && r.checks.length > 0 && r.checks.every((c) => c.ok);
  return r;
}

/** device → sha256 of the model it serves, from the retained status. */
async function serving(ctx: SimContext): Promise<Map<string, string | null>> {
  const boards = (await fleetStatus({ url: ctx.brokerUrl })).boards;
  return new Map(boards.map((b) => [b.device, b.model?.sha256 ?? null]));
}

/**
 * The boards of `devices` that do not serve `want(device)`, after waiting up to 15 s for them to
 * (a board republishes bridge/info just after it answers a rollback).
 */
async function notServing(
  ctx: SimContext,
  devices: readonly string[],
  want: (device: string) => string | null | undefined,
): Promise<string[]> {
  const until = Date.now() + 15_000;
  for (;;) {
    const now = await serving(ctx);
    const off = devices.filter((d) => now.get(d) !== want(d)).map((d) => `${d} on ${short(now.get(d))}`);
    if (off.length === 0 || Date.now() > until) return off;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A package whose served file none of `serves` is on (the float and int8 twins alternate); null when none is. */
function packageUnlike(ctx: SimContext, id: string, serves: readonly (string | null)[]) {
  const float = sha256(ctx.fleet.shippedFloatModel);
  const int8 = sha256(ctx.fleet.shippedModel);
  if (!serves.includes(float)) return ctx.fleet.floatPackage(id);
  if (!serves.includes(int8)) return ctx.fleet.int8Package(id);
  return null;
}

/** Runs `body` with a report; an exception becomes the report's error; a failure carries the boards' logs. */
async function scenario(
  ctx: SimContext,
  name: string,
  body: (r: ReturnType<typeof report>) => Promise<RolloutState | undefined>,
): Promise<ScenarioReport> {
  const r = report(name);
  let state: RolloutState | undefined;
  try {
    state = await body(r);
  } catch (err) {
    r.error = (err as Error).stack ?? String(err);
  }
  finish(r, state);
  if (!r.ok && state) {
    const troubled = Object.entries(state.boards).filter(([, b]) => ['failed', 'rollback-failed'].includes(b.state));
    r.board_logs = Object.fromEntries(troubled.map(([d]) => [d, ctx.boardLog(d)]));
  }
  return r;
}

export function rolloutCompletes(ctx: SimContext): Promise<ScenarioReport> {
  return scenario(ctx, 'a tag rollout (canary 2, waves of 6) completes', async (r) => {
    const before = await serving(ctx);
    const ids = ctx.sims.map((s) => s.id);
    const pkg = packageUnlike(
      ctx,
      'sim-complete',
      ids.map((d) => before.get(d) ?? null),
    );
    if (!r.check('every board of the tag serves another model before', pkg !== null)) return undefined;
    const res = await runRollout({ ...ctx.options('complete.json'), packageDir: pkg!.dir, selector: { tag: 'sim' } });
    const s = res.state;
    r.check('completed', s.status === 'completed', s.stop_reason);
    const notHealthy = ids.filter((d) => s.boards[d]?.state !== 'healthy');
    r.check('every board pushed and healthy', notHealthy.length === 0, notHealthy.join(', '));
    const off = await notServing(ctx, ids, () => pkg!.sha256);
    r.check('every board serves the package afterwards', off.length === 0, off.join(', '));
    return s;
  });
}

export function wrongKeyCanary(ctx: SimContext): Promise<ScenarioReport> {
  return scenario(
    ctx,
    'a canary with the wrong signing key stops the rollout; the other canary is rolled back',
    async (r) => {
      const before = await serving(ctx);
      const [other, ...rest] = ctx.sims.map((s) => s.id);
      const pkg = packageUnlike(ctx, 'sim-wrong-key', [before.get(ctx.odd.id) ?? null, before.get(other) ?? null]);
      // The odd board serves the float model and refuses everything, so this needs the first canary off int8:
      // it is when the first scenario completed (a stopped first scenario leaves it on int8, and this one cannot run).
      const canaries = `${ctx.odd.id} on ${short(before.get(ctx.odd.id))}, ${other} on ${short(before.get(other))}`;
      if (!r.check('both canaries serve another model before', pkg !== null, canaries)) return undefined;
      const devices = [ctx.odd.id, other, ...rest];
      const res = await runRollout({ ...ctx.options('wrong-key.json'), packageDir: pkg!.dir, selector: { devices } });
      const s = res.state;
      r.check('stopped', s.status === 'stopped', s.status);
      r.check(
        'stopped by the refusal',
        new RegExp(`${ctx.odd.id}: MODEL_SIGNATURE_INVALID`).test(s.stop_reason ?? ''),
        s.stop_reason,
      );
      const odd = s.boards[ctx.odd.id];
      r.check('the wrong-key board refused and never switched', odd.state === 'failed' && !odd.switched, odd.state);
      r.check('the other canary was rolled back', s.boards[other].state === 'rolled-back', s.boards[other].state);
      const touched = rest.filter((d) => s.boards[d].state !== 'untouched');
      r.check('every later board untouched', touched.length === 0, touched.join(', '));
      const changed = await notServing(ctx, devices, (d) => before.get(d));
      r.check('every board serves what it served before', changed.length === 0, changed.join(', '));
      return s;
    },
  );
}

export function boardKilledMidWave(ctx: SimContext): Promise<ScenarioReport> {
  return scenario(
    ctx,
    'a board SIGKILLed mid-wave stops the rollout; every board it changed is rolled back',
    async (r) => {
      const before = await serving(ctx);
      const ids = ctx.sims.map((s) => s.id);
      const pkg = packageUnlike(
        ctx,
        'sim-killed',
        ids.map((d) => before.get(d) ?? null),
      );
      if (!r.check('every board of the tag serves another model before', pkg !== null)) return undefined;
      const base = ctx.options('killed.json');
      let victim: string | null = null;
      let killedWhile: string | null = null;
      const kill = async () => {
        const board = ctx.fleet.board(victim!);
        if (board.exitStatus !== null)
          throw new Error(`${victim} had already exited: ${JSON.stringify(board.exitStatus)}`);
        killedWhile = (await readRolloutState(base.statePath))?.boards[victim!]?.state ?? null;
        ctx.log(`SIGKILL ${victim} (its rollout state: ${killedWhile})`);
        board.signal('SIGKILL');
      };
      let onLine: (line: string) => void = () => undefined;
      const killed = new Promise<void>((resolve) => {
        onLine = (line) => {
          const m = /^wave 2\/\d+: (.*)$/.exec(line);
          if (m && !victim) {
            victim = m[1].split(', ').at(-1)!;
            setTimeout(() => {
              kill().then(resolve, (err: unknown) => {
                r.check('the victim was killed', false, (err as Error).message);
                resolve();
              });
            }, 1500);
          }
        };
      });
      const log = (line: string) => (ctx.log(line), onLine(line));
      const res = await runRollout({ ...base, log, packageDir: pkg!.dir, selector: { tag: 'sim' } });
      if (victim) await killed;
      const s = res.state;
      Object.assign(r, { killed: victim, killed_while: killedWhile });
      if (!r.check('a board of wave 2 was killed while the wave ran', victim !== null && killedWhile !== null))
        return s;
      const exit = await ctx.fleet.board(victim!).exited;
      r.check('it died of SIGKILL', exit.signal === 'SIGKILL', JSON.stringify(exit));
      r.check('stopped', s.status === 'stopped', s.status);
      r.check('stopped because of the killed board', (s.stop_reason ?? '').includes(`${victim}: `), s.stop_reason);
      const left = ids.filter((d) => d !== victim && s.boards[d].switched && s.boards[d].state !== 'rolled-back');
      r.check('every other board it switched was rolled back', left.length === 0, left.join(', '));
      r.check(
        'the killed board is reported, not rolled back',
        ['rollback-failed', 'failed'].includes(s.boards[victim!].state),
        `${s.boards[victim!].state}: ${s.boards[victim!].error}`,
      );
      // The operator's part, as the report instructs: once it is back, roll it back if it serves the package.
      await ctx.fleet.start([ctx.sims.find((b) => b.id === victim)!], 600_000);
      const op = await FleetConnection.open({ url: ctx.brokerUrl });
      try {
        await op.settle();
        const h = await op.request(victim!, 'health_check', {}, 30_000);
        const back = (h.data as { model?: { sha256?: string } }).model?.sha256 ?? null;
        r.back_serving = short(back);
        if (back === pkg!.sha256) {
          const rb = await op.request(victim!, 'model/rollback', { if_sha256: pkg!.sha256 }, 60_000);
          r.check('the returned board rolls back on request', rb.status === 'ok', rb.error);
        }
      } finally {
        await op.close();
      }
      const changed = await notServing(ctx, ids, (d) => before.get(d));
      r.check('every board serves what it served before', changed.length === 0, changed.join(', '));
      return s;
    },
  );
}
