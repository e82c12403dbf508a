/**
 * `faceedge fleet push`: a staged rollout of one signed package over the existing chunked MQTT push.
 * Canary boards first, then waves; each wave soaks and must pass the health gate (health-gate.ts).
 * A refused package, a failed push, a board that goes offline or fails the gate stops the rollout:
 * every board of the rollout is asked which model it serves, and each one this rollout changed is sent
 * `model/rollback` (rollout-stop.ts). The boards' own checks (signature, sha256, self-test) run on every
 * install as before; the rollout only decides who gets the package and when to stop.
 */
import { mapWithLimit } from '../concurrency/map-with-limit.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { readModelPackage, servingFile } from '../model-push/model-package.js';
import { pushModelOverMqtt } from '../model-push/mqtt-push-sender.js';
import { headManifestSha256, pushedHeadDir } from '../model-push/head-package.js';
import { FleetConnection, operatorClientOptions, type FleetConnectionOptions } from './fleet-connection.js';
import { modelOf } from './fleet-view.js';
import { DEFAULT_GATE, gateReasons, RateMeter, type GateThresholds, type RateSample } from './health-gate.js';
import { planWaves, requireNamedModel, selectTargets, type TargetSelector } from './rollout-plan.js';
import {
  newRolloutState,
  readRolloutState,
  RolloutStateFile,
  type RolloutPackage,
  type RolloutState,
} from './rollout-state.js';
import { stopRollout } from './rollout-stop.js';

export interface RolloutOptions extends FleetConnectionOptions {
  readonly packageDir: string;
  /**
   * The board model the package replaces (`classifiers[].name`): pushed into that model's store, gated on that
   * model's sha256 and rolled back by name. Absent: each board's first model.
   */
  readonly name?: string;
  /**
   * The head package pushed with the image model as one pair (src/model-push/push-payload.ts; default
   * `<packageDir>/head` where there is one). The gate compares the image model's sha256; a board already serving
   * it is pushed to anyway (its head may differ) and skipped when it answers `unchanged` (it has this very pair).
   */
  readonly head?: string;
  readonly selector: TargetSelector;
  /** Boards in the first wave. Default 1. */
  readonly canary?: number;
  /** Boards per later wave. Default 10. */
  readonly wave?: number;
  /** Seconds each wave runs on the new model before its gate. */
  readonly soakS: number;
  /** Seconds of each board's own frames and events measured just before its push. Default `soakS`. */
  readonly baselineS?: number;
  /** One board's push, every retry included, ends within this, seconds. Default 300. */
  readonly pushTimeoutS?: number;
  /** Pushes in flight at once. Default 4. */
  readonly concurrency?: number;
  /** The state file (created, or resumed when it exists). */
  readonly statePath: string;
  readonly thresholds?: GateThresholds;
  /** Model bytes per push chunk. Default 64 KiB. */
  readonly chunkSize?: number;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** The push to one board (default the chunked MQTT push); tests wrap it to inject faults. */
  readonly push?: typeof pushModelOverMqtt;
}

export interface RolloutResult {
  readonly ok: boolean;
  readonly state: RolloutState;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NO_REPORTS: RateSample = { fps: null, reports: 0, events: 0, eventsPerS: null, restarted: false };

export async function runRollout(o: RolloutOptions): Promise<RolloutResult> {
  const log = o.log ?? (() => undefined);
  const target = await rolloutPackage(o);
  const fleet = await FleetConnection.open(o);
  try {
    await fleet.settle();
    const st = await openState(o, target, fleet);
    if (st.state.status !== 'running') return { ok: st.state.status === 'completed', state: st.state };
    return await new Rollout(o, fleet, st, log).run();
  } finally {
    await fleet.close();
  }
}

/** What a rollout of `o.packageDir` pushes, to which model, with which head: its state's `package`. */
export async function rolloutPackage(o: Pick<RolloutOptions, 'packageDir' | 'name' | 'head'>): Promise<RolloutPackage> {
  const pkg = await readModelPackage(o.packageDir);
  const headDir = pushedHeadDir(o.packageDir, o.head);
  return {
    dir: o.packageDir,
    id: pkg.manifest.id,
    sha256: servingFile(pkg).sha256,
    ...(o.name === undefined ? {} : { name: o.name }),
    ...(headDir === null ? {} : { head: await headManifestSha256(headDir) }),
  };
}

async function openState(o: RolloutOptions, target: RolloutPackage, fleet: FleetConnection): Promise<RolloutStateFile> {
  const existing = await readRolloutState(o.statePath);
  if (existing) {
    if (existing.package.sha256 !== target.sha256) {
      throw new FaceedgeError(
        'USAGE',
        `${o.statePath} belongs to a rollout of ${existing.package.id} (${existing.package.sha256.slice(0, 12)}…), not ${target.id}`,
        { hint: 'pass another --state file' },
      );
    }
    // Resumed with another --name (or none), it would gate and roll back another model than it pushed.
    if (existing.package.name !== target.name) {
      throw new FaceedgeError(
        'USAGE',
        `${o.statePath} belongs to a rollout to ${modelLabel(existing.package.name)}, not to ${modelLabel(target.name)}`,
        {
          hint: `rerun with ${existing.package.name === undefined ? 'no --name' : `--name ${existing.package.name}`}, or pass another --state file`,
        },
      );
    }
    // Resumed with another head, a completed rollout would answer "done" and push nothing.
    if (existing.package.head !== target.head) {
      throw new FaceedgeError(
        'USAGE',
        `${o.statePath} belongs to a rollout ${existing.package.head === undefined ? 'without a head' : `with head ${existing.package.head.slice(0, 12)}…`}, not ${target.head === undefined ? 'without one' : `with head ${target.head.slice(0, 12)}…`}`,
        { hint: 'pass another --state file (the default one names the head)' },
      );
    }
    if (existing.status === 'stopped') {
      throw new FaceedgeError('ROLLOUT_STOPPED', `this rollout stopped earlier: ${existing.stop_reason}`, {
        hint: `fix the cause, then remove ${o.statePath} (or pass another --state) to start a new rollout`,
      });
    }
    return new RolloutStateFile(o.statePath, existing);
  }
  const devices = selectTargets(fleet.view.boards(), o.selector);
  requireNamedModel(fleet.view.boards(), devices, target.name);
  const st = new RolloutStateFile(
    o.statePath,
    newRolloutState(target, planWaves(devices, o.canary ?? 1, o.wave ?? 10)),
  );
  await st.save();
  return st;
}

/** How a log line or an error names the model a rollout addresses. */
export const modelLabel = (name: string | undefined): string =>
  name === undefined ? 'the first model' : `the model "${name}"`;

class Rollout {
  readonly #target: RolloutPackage;
  readonly #meter: RateMeter;
  /** Workstation time each board was seen switched in this run, ms. */
  readonly #switchedAt = new Map<string, number>();

  readonly #o: RolloutOptions;
  readonly #fleet: FleetConnection;
  readonly #st: RolloutStateFile;
  readonly #log: (line: string) => void;
  /** The push carries a head (`--head`, or `<dir>/head`). */
  readonly #carriesHead: boolean;

  constructor(o: RolloutOptions, fleet: FleetConnection, st: RolloutStateFile, log: (line: string) => void) {
    // The package as given now (a resumed rollout may name the same package by another path).
    this.#o = o;
    this.#fleet = fleet;
    this.#st = st;
    this.#log = log;
    this.#target = { ...st.state.package, dir: o.packageDir };
    this.#carriesHead = st.state.package.head !== undefined;
    this.#meter = new RateMeter(fleet, Object.keys(st.state.boards));
  }

  async run(): Promise<RolloutResult> {
    this.#meter.start();
    try {
      return await this.#run();
    } catch (err) {
      // Whatever went wrong on this side (a state file that cannot be written, a broker gone), the boards
      // already changed must not be left behind.
      const why = `the rollout failed: ${(err as Error).message}`;
      await this.#stop(why).catch(() => undefined);
      throw err;
    } finally {
      this.#meter.stop();
    }
  }

  async #run(): Promise<RolloutResult> {
    const boards = this.#st.state.boards;
    const waves = this.#st.state.waves;
    const open = waves.flat().filter((d) => !['healthy', 'skipped'].includes(boards[d].state));
    this.#log(
      `rollout of ${this.#target.id} (${this.#target.sha256.slice(0, 12)}…) to ${modelLabel(this.#target.name)}: ${waves.length} waves, ${open.length} boards to do`,
    );
    const baselineS = this.#o.baselineS ?? this.#o.soakS;
    if (open.length > 0) {
      this.#log(`measuring each board's frames and events for ${baselineS} s before its push`);
      await sleep(baselineS * 1000);
    }
    for (const [i, wave] of waves.entries()) {
      const todo = wave.filter((d) => !['healthy', 'skipped'].includes(boards[d].state));
      if (todo.length === 0) continue;
      this.#log(
        `wave ${i + 1}/${waves.length}${i === 0 && (this.#o.canary ?? 1) > 0 ? ' (canary)' : ''}: ${todo.join(', ')}`,
      );
      const pushFailures = (await mapWithLimit(todo, this.#o.concurrency ?? 4, (d) => this.#push(d))).filter(
        (r): r is string => r !== null,
      );
      if (pushFailures.length > 0) return this.#stop(`wave ${i + 1}: ${pushFailures.join('; ')}`);
      const switched = todo.filter((d) => boards[d].state === 'switched');
      if (switched.length === 0) continue;
      const failure = await this.#soakAndGate(switched);
      if (failure) return this.#stop(`wave ${i + 1}: ${failure}`);
    }
    await this.#st.finish('completed');
    this.#log('rollout completed');
    return { ok: true, state: this.#st.state };
  }

  /** Pushes to one board; null when it switched (or was skipped), else why not. */
  async #push(device: string): Promise<string | null> {
    const p = this.#st.state.boards[device];
    const row = this.#fleet.view.board(device);
    const serves = modelOf(row, this.#target.name)?.sha256;
    // A pair may bring another head with the image model a board serves: only the board can tell (`unchanged`).
    if (p.state === 'pending' && serves === this.#target.sha256 && !this.#carriesHead) {
      await this.#st.board(device, 'skipped');
      this.#log(`${device}: already serves ${this.#target.sha256.slice(0, 12)}…, skipped`);
      return null;
    }
    if (row?.online !== true) {
      await this.#st.board(device, 'failed', { error: 'offline before the push' });
      return `${device}: offline before the push`;
    }
    if ((p.switched || p.state === 'pushing') && serves === this.#target.sha256) {
      // Resumed after the workstation died between its push (or the push's answer) and its gate: the
      // board switched in this rollout; it needs the gate, not the bytes again.
      this.#switchedAt.set(device, Date.now());
      await this.#st.board(device, 'switched', { switched: true });
      return null;
    }
    const now = Date.now();
    const before = this.#meter.window(device, now - (this.#o.baselineS ?? this.#o.soakS) * 1000, now);
    await this.#st.board(device, 'pushing', {
      previous_sha256: p.previous_sha256 ?? serves ?? null,
      push_started: true,
      rates: { before, after: null },
    });
    const abort = new AbortController();
    const off = this.#fleet.onChange((d) => {
      if (d === device && this.#fleet.view.board(d)?.online === false) abort.abort();
    });
    try {
      const r = await (this.#o.push ?? pushModelOverMqtt)({
        dir: this.#target.dir,
        head: this.#o.head,
        url: this.#o.url,
        deviceId: device,
        name: this.#target.name,
        baseTopic: this.#o.baseTopic,
        chunkSize: this.#o.chunkSize,
        mqtt: operatorClientOptions(this.#o.auth),
        timeoutMs: (this.#o.pushTimeoutS ?? 300) * 1000,
        signal: abort.signal,
        onRetry: ({ cause, waitMs }) => this.#log(`${device}: ${cause}; retrying in ${(waitMs / 1000).toFixed(1)} s`),
      });
      if (r.status.model?.unchanged) {
        await this.#st.board(device, 'skipped'); // nothing switched: nothing to gate, nothing to roll back
        this.#log(`${device}: already serves ${r.status.model.version}, skipped`);
        return null;
      }
      this.#switchedAt.set(device, Date.now());
      await this.#st.board(device, 'switched', { switched: true, error: null });
      const retried = r.rounds > 1 ? `, ${r.rounds} rounds` : '';
      this.#log(
        `${device}: installed ${r.status.model?.version ?? ''} (${r.chunksSent}/${r.totalChunks} chunks sent${retried})`,
      );
      return null;
    } catch (err) {
      const why = abort.signal.aborted
        ? 'went offline during the push'
        : isFaceedgeError(err)
          ? `${err.code}: ${err.message}`
          : String(err);
      await this.#st.board(device, 'failed', { error: why });
      this.#log(`${device}: FAILED ${why}`);
      return `${device}: ${why}`;
    } finally {
      off();
    }
  }

  /** Soaks the switched boards, stopping early when one goes offline; then gates each against its own rates. */
  async #soakAndGate(devices: readonly string[]): Promise<string | null> {
    const soakFrom = Date.now();
    const until = soakFrom + this.#o.soakS * 1000;
    this.#log(`soaking ${devices.length} boards for ${this.#o.soakS} s`);
    while (Date.now() < until) {
      const down = devices.filter((d) => this.#fleet.view.board(d)?.online === false);
      if (down.length > 0) {
        for (const d of down) await this.#st.board(d, 'failed', { error: 'went offline during the soak' });
        return down.map((d) => `${d}: went offline during the soak`).join('; ');
      }
      await sleep(200);
    }
    const verdicts = await mapWithLimit(devices, 16, async (d) => {
      const health = await this.#fleet.request(d, 'health_check', {}, 30_000).catch((e: unknown) => e as Error);
      const before = this.#st.state.boards[d].rates.before ?? NO_REPORTS;
      // Over the soak, which starts once the wave's last push ended: while the others were still installing,
      // the load was the rollout's own. Its first report is left out (it may straddle the last switch).
      const after = this.#meter.window(d, Math.max(this.#switchedAt.get(d) ?? soakFrom, soakFrom), Date.now(), true);
      const reasons = gateReasons({
        targetSha256: this.#target.sha256,
        modelName: this.#target.name,
        row: this.#fleet.view.board(d),
        health,
        figures: { before, after },
        thresholds: this.#o.thresholds ?? DEFAULT_GATE,
      });
      return { d, reasons, rates: { before, after } };
    });
    const failed: string[] = [];
    for (const { d, reasons, rates } of verdicts) {
      if (reasons.length === 0) await this.#st.board(d, 'healthy', { rates });
      else {
        await this.#st.board(d, 'failed', { error: reasons.join('; '), rates });
        failed.push(`${d}: ${reasons.join('; ')}`);
      }
    }
    this.#log(failed.length === 0 ? `gate passed: ${devices.join(', ')}` : `gate FAILED: ${failed.join(' | ')}`);
    return failed.length > 0 ? failed.join('; ') : null;
  }

  async #stop(reason: string): Promise<RolloutResult> {
    await stopRollout(
      {
        fleet: this.#fleet,
        st: this.#st,
        target: this.#target,
        concurrency: Math.max(this.#o.concurrency ?? 4, 8),
        log: this.#log,
      },
      reason,
    );
    return { ok: false, state: this.#st.state };
  }
}
