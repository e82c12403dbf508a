/**
 * `faceedge fleet push --name` against real daemons with two models per face on a real Mosquitto: a rollout
 * addressed to the second model installs into that model's store, passes the gate on that model's sha256 and
 * leaves the first model as it was; a rollout whose gate fails rolls back the named model only, while the first
 * model keeps the package it was given before (a rollback without the name would have moved it back to its
 * configured file). Boards without the named model are refused before any push, and a stopped named rollout
 * cannot be resumed as a rollout of another model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { fleetStatus } from '../../src/fleet/fleet-status.js';
import { DEFAULT_GATE } from '../../src/fleet/health-gate.js';
import { runRollout } from '../../src/fleet/rollout.js';
import type { RolloutState } from '../../src/fleet/rollout-state.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { runFaceedge } from '../helpers/daemon-process.js';
import { TestFleet } from '../helpers/fleet-boards.js';
import { modelPackageSource, NO_MODEL_PACKAGE_REASON, sha256 } from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const SOURCE = modelPackageSource();
const GATE = ['--soak', '3', '--baseline', '3', '--min-event-ratio', '0'];

describe.skipIf(!SOURCE)(`fleet push --name (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-by-name-'));
  let broker: Mosquitto;
  let fleet: TestFleet;
  let shipped: string;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    fleet = new TestFleet(work, broker.url, SOURCE!);
    shipped = sha256(fleet.shippedModel);
    const classifiers = [
      { name: 'gender', model: fleet.shippedModel },
      { name: 'age', model: fleet.shippedModel, interval_ms: 1000 },
    ];
    await fleet.start([
      { id: 'n1', tags: ['door'], classifiers },
      { id: 'n2', tags: ['door'], classifiers },
      { id: 'plain', tags: ['yard'] },
    ]);
  }, 240_000);

  afterAll(async () => {
    await fleet?.dispose();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  /** What each board's bridge/info says it serves: the first model, and every model by name. */
  const serving = async (device: string) => {
    const row = (await fleetStatus({ url: broker.url })).boards.find((b) => b.device === device);
    return {
      first: row?.model?.sha256,
      byName: Object.fromEntries((row?.models ?? []).map((m) => [m.name, m.sha256])),
    };
  };

  it('rolls a package out to the named model only, gated on that model', async () => {
    const pkg = fleet.floatPackage('faceedge-age-v2');
    const state = join(work, 'rollout-age-v2.json');
    const r = await runFaceedge(
      [
        'fleet',
        'push',
        pkg.dir,
        '--mqtt',
        broker.url,
        '--name',
        'age',
        '--devices',
        'n1,n2',
        '--canary',
        '1',
        '--wave',
        '1',
        ...GATE,
        '--state',
        state,
        '--json',
      ],
      { timeoutMs: 240_000 },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const done = JSON.parse(r.stdout) as RolloutState;
    expect(done.status).toBe('completed');
    expect(done.package).toMatchObject({ name: 'age', sha256: pkg.sha256 });
    expect(r.stderr).toMatch(/to the model "age"/);
    for (const d of ['n1', 'n2']) {
      expect(done.boards[d]).toMatchObject({ state: 'healthy', previous_sha256: shipped });
      // The named model serves the package; the first model is as it was.
      expect(await serving(d)).toEqual({ first: shipped, byName: { gender: shipped, age: pkg.sha256 } });
    }

    // A board without a model of that name is refused before anything is pushed, by the plan and the rollout.
    const dry = await runFaceedge([
      'fleet',
      'push',
      pkg.dir,
      '--mqtt',
      broker.url,
      '--name',
      'age',
      '--all',
      '--dry-run',
    ]);
    expect(dry.code).not.toBe(0);
    expect(dry.stderr).toMatch(/no model named "age" on plain/);
  }, 300_000);

  it('rolls back only the named model when its gate fails; the first model keeps its own package', async () => {
    // n1's first model gets a package of its own first: a rollback that forgot the name would undo it.
    const gender = fleet.floatPackage('faceedge-gender-v2');
    const pushed = await pushModelOverMqtt({ dir: gender.dir, url: broker.url, deviceId: 'n1', timeoutMs: 120_000 });
    expect(pushed.status.state).toBe('installed');
    const ageBefore = (await serving('n1')).byName.age;
    expect(ageBefore).not.toBe(shipped); // the float package of the first test

    const pkg = fleet.int8Package('faceedge-age-v3'); // serves the shipped int8 file: another sha256 than now
    const lines: string[] = [];
    const statePath = join(work, 'rollout-age-v3.json');
    const r = await runRollout({
      url: broker.url,
      packageDir: pkg.dir,
      name: 'age',
      selector: { devices: ['n1'] },
      canary: 1,
      wave: 1,
      soakS: 3,
      baselineS: 3,
      statePath,
      // No board runs 1000× faster after a switch: this gate fails on the board's own frame rate.
      thresholds: { ...DEFAULT_GATE, minFrameRatio: 1000, minEventRatio: 0 },
      log: (l) => lines.push(l),
    });
    expect(r.ok, lines.join('\n')).toBe(false);
    expect(r.state.stop_reason).toMatch(/^wave 1: n1: frames .* < 1000 ×/);
    expect(r.state.boards.n1).toMatchObject({
      state: 'rolled-back',
      switched: true,
      previous_sha256: ageBefore,
      serving_at_stop: ageBefore,
    });
    expect(await serving('n1')).toEqual({
      first: gender.sha256,
      byName: { gender: gender.sha256, age: ageBefore },
    });
    expect(lines).toContain(`n1: rolled back to ${ageBefore?.slice(0, 12)}…`);

    // The stopped rollout's state belongs to the "age" model: resuming it for the first model is refused.
    let resumed: unknown;
    try {
      await runRollout({ url: broker.url, packageDir: pkg.dir, selector: { devices: ['n1'] }, soakS: 1, statePath });
    } catch (err) {
      resumed = err;
    }
    expect(isFaceedgeError(resumed, 'USAGE') && resumed.message).toMatch(
      /belongs to a rollout to the model "age", not to the first model/,
    );
  }, 300_000);
});
