/**
 * `faceedge fleet status` and `faceedge fleet push` (the real CLI) against five real daemons on a real
 * Mosquitto: the status sees every board with its tags and model; a tag rollout with a canary and
 * waves completes, survives the workstation being SIGKILLed mid-rollout (the rerun continues without
 * pushing finished boards again) and is idempotent; a rollout whose canary holds the wrong signing key
 * stops at the canary and rolls the other canary back, leaving the rest untouched.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceedgeError } from '../../src/errors.js';
import { fleetStatus } from '../../src/fleet/fleet-status.js';
import { runRollout } from '../../src/fleet/rollout.js';
import type { RolloutState } from '../../src/fleet/rollout-state.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { runFaceedge } from '../helpers/daemon-process.js';
import { TestFleet } from '../helpers/fleet-boards.js';
import { modelPackageSource, NO_MODEL_PACKAGE_REASON, sha256 } from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const SOURCE = modelPackageSource();
const GATE = ['--soak', '3', '--baseline', '3', '--min-event-ratio', '0'];

describe.skipIf(!SOURCE)(`fleet status and staged rollout (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-rollout-'));
  let broker: Mosquitto;
  let fleet: TestFleet;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    fleet = new TestFleet(work, broker.url, SOURCE!);
    await fleet.start([
      { id: 'a-wrongkey', tags: ['yard'], publicKeyPem: fleet.strangerPublicKey('stranger') },
      { id: 'b1', tags: ['lobby'] },
      { id: 'b2', tags: ['lobby'] },
      { id: 'b3', tags: ['lobby'] },
      { id: 'b4', tags: ['yard'] },
    ]);
  }, 180_000);

  afterAll(async () => {
    await fleet?.dispose();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const status = async () => (await fleetStatus({ url: broker.url })).boards;
  const shaOf = async (device: string) => (await status()).find((b) => b.device === device)?.model?.sha256;

  it(
    'fleet status --json lists every board with state, version, model, tags and cameras',
    { timeout: 120_000 },
    async () => {
      const t0 = Date.now();
      const boards = await status();
      const ms = Date.now() - t0;
      expect(ms, 'one status snapshot of five boards').toBeLessThan(5000);
      expect(boards.map((b) => [b.device, b.online, b.tags])).toEqual([
        ['a-wrongkey', true, ['yard']],
        ['b1', true, ['lobby']],
        ['b2', true, ['lobby']],
        ['b3', true, ['lobby']],
        ['b4', true, ['yard']],
      ]);
      const r = await runFaceedge(['fleet', 'status', '--mqtt', broker.url, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { boards: Array<Record<string, unknown>> };
      expect(doc.boards).toHaveLength(5);
      expect(doc.boards[1]).toMatchObject({
        device: 'b1',
        online: true,
        version: expect.any(String),
        tags: ['lobby'],
        model: { id: expect.any(String), sha256: sha256(fleet.shippedModel), installed: 'classifier.model' },
        delegate: { active: 'xnnpack' },
        cameras: [{ name: 'cam', capture: 'online' }],
      });
      const text = await runFaceedge(['fleet', 'status', '--mqtt', broker.url]);
      expect(text.stdout).toMatch(/^b3 +online .* lobby +cam:online/m);
      expect(text.stdout).toMatch(/5 boards, 5 online, 0 offline or unknown/);
    },
  );

  it('rolls a package out to a tag in gated waves, resumes after the workstation is killed, and is idempotent', async () => {
    const pkg = fleet.floatPackage('fleet-v2');
    const state = join(work, 'rollout-v2.json');
    const args = [
      'fleet',
      'push',
      pkg.dir,
      '--mqtt',
      broker.url,
      '--tag',
      'lobby',
      '--canary',
      '1',
      '--wave',
      '1',
      ...GATE,
      '--state',
      state,
    ];

    // First run: killed as soon as the second wave starts (the canary is done and gated).
    const first = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
        join(REPO_ROOT, 'src/cli/main.ts'),
        ...args,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let firstLog = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no second wave: ${firstLog}`)), 120_000);
      first.stderr.setEncoding('utf8').on('data', (c: string) => {
        firstLog += c;
        if (/wave 2\/3/.test(firstLog)) (clearTimeout(timer), first.kill('SIGKILL'), resolve());
      });
    });
    await new Promise((r) => first.once('close', r));
    const killed = JSON.parse(readFileSync(state, 'utf8')) as RolloutState;
    expect(killed.status).toBe('running');
    expect(killed.waves).toEqual([['b1'], ['b2'], ['b3']]);
    expect(killed.boards.b1.state).toBe('healthy');
    // As if the workstation had died after b1's install but before it recorded the answer: b1 must be
    // recognised by the sha256 it serves, gated, and not sent the package again.
    killed.boards.b1 = { ...killed.boards.b1, state: 'pushing', switched: false };
    writeFileSync(state, JSON.stringify(killed));

    const second = await runFaceedge(args, { timeoutMs: 180_000 });
    expect(second.code, second.stderr + second.stdout).toBe(0);
    expect(second.stderr).not.toMatch(/b1: installed/); // finished boards are not pushed again
    expect(second.stderr).toMatch(/b3: installed/);
    const done = JSON.parse(readFileSync(state, 'utf8')) as RolloutState;
    expect(done.status).toBe('completed');
    expect(Object.fromEntries(Object.entries(done.boards).map(([d, b]) => [d, b.state]))).toEqual({
      b1: 'healthy',
      b2: 'healthy',
      b3: 'healthy',
    });
    expect(done.boards.b2.previous_sha256).toBe(sha256(fleet.shippedModel));
    expect(done.boards.b1).toMatchObject({ switched: true, previous_sha256: sha256(fleet.shippedModel) });
    for (const d of ['b1', 'b2', 'b3']) expect(await shaOf(d)).toBe(pkg.sha256);
    expect(await shaOf('b4')).toBe(sha256(fleet.shippedModel));

    // The same command again: nothing to do. A fresh state file: every board already serves it.
    const again = await runFaceedge(args, { timeoutMs: 60_000 });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/rollout completed/);
    const fresh = await runFaceedge([...args.slice(0, -1), join(work, 'rollout-v2-again.json'), '--json'], {
      timeoutMs: 60_000,
    });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(Object.values((JSON.parse(fresh.stdout) as RolloutState).boards).map((b) => b.state)).toEqual([
      'skipped',
      'skipped',
      'skipped',
    ]);
  }, 600_000);

  it('a canary with the wrong signing key stops the rollout at the canary; the switched canary is rolled back, the rest untouched', async () => {
    const shipped = sha256(fleet.shippedModel);
    const b1Before = await shaOf('b1');
    const pkg = fleet.floatPackage('fleet-v3');
    const state = join(work, 'rollout-v3.json');
    const plan = await runFaceedge([
      'fleet',
      'push',
      pkg.dir,
      '--mqtt',
      broker.url,
      '--devices',
      'b4,a-wrongkey,b1',
      '--canary',
      '2',
      '--dry-run',
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^1 +b4 +online +\w{12} +push$/m);
    expect(plan.stdout).toMatch(/^1 +a-wrongkey +online +\w{12} +push$/m);
    expect(plan.stdout).toMatch(/^2 +b1 +online +\w{12} +skip$/m); // b1 serves this float model since the last rollout
    expect(plan.stdout).toMatch(/2 to push, 1 already on it, 0 offline/);
    const r = await runFaceedge(
      [
        'fleet',
        'push',
        pkg.dir,
        '--mqtt',
        broker.url,
        '--devices',
        'b4,a-wrongkey,b1',
        '--canary',
        '2',
        '--wave',
        '5',
        ...GATE,
        '--state',
        state,
        '--json',
      ],
      { timeoutMs: 180_000 },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/rollout stopped: wave 1: a-wrongkey: MODEL_SIGNATURE_INVALID/);
    const s = JSON.parse(r.stdout) as RolloutState;
    expect(s.status).toBe('stopped');
    expect(s.boards['a-wrongkey']).toMatchObject({
      state: 'failed',
      switched: false,
      error: expect.stringMatching(/^MODEL_SIGNATURE_INVALID: /),
    });
    expect(s.boards.b4).toMatchObject({ state: 'rolled-back', switched: true, previous_sha256: shipped });
    expect(s.boards.b1).toMatchObject({ state: 'untouched', switched: false });
    expect(await shaOf('b4')).toBe(shipped);
    expect(await shaOf('a-wrongkey')).toBe(shipped);
    expect(await shaOf('b1')).toBe(b1Before);
    expect(s.waves).toEqual([['b4', 'a-wrongkey'], ['b1']]);
    // Rerunning a stopped rollout is refused until the operator starts a new one.
    const rerun = await runFaceedge([
      'fleet',
      'push',
      pkg.dir,
      '--mqtt',
      broker.url,
      '--devices',
      'b4,a-wrongkey,b1',
      '--state',
      state,
    ]);
    expect(rerun.code).toBe(1);
    expect(rerun.stderr).toMatch(/this rollout stopped earlier/);
    for (const d of fleet.boards.values()) expect(d.exitStatus).toBeNull();
  }, 240_000);

  it('a board that switches and then fails to acknowledge is asked, found on the package and rolled back', async () => {
    // A board of its own: the boards above carry the history of the rollouts before.
    await fleet.start([{ id: 'c1', tags: ['fresh'] }]);
    const shipped = sha256(fleet.shippedModel);
    expect(await shaOf('c1')).toBe(shipped);
    const pkg = fleet.floatPackage('fleet-v4');
    let switchedSilently = false;
    const r = await runRollout({
      url: broker.url,
      packageDir: pkg.dir,
      selector: { devices: ['c1', 'b1'] },
      canary: 1,
      wave: 1,
      soakS: 2,
      baselineS: 2,
      statePath: join(work, 'rollout-v4.json'),
      thresholds: { minFrameRatio: 0.5, minEventRatio: 0, minBaselineEvents: 5 },
      // The board installs the package for real; then its answer is lost on the way back.
      push: async (o) => {
        const done = await pushModelOverMqtt(o);
        switchedSilently = done.status.state === 'installed';
        throw new FaceedgeError('MODEL_TRANSFER_FAILED', `device ${o.deviceId}: the answer was lost`);
      },
    });
    expect(switchedSilently).toBe(true);
    expect(r.ok).toBe(false);
    expect(r.state.stop_reason).toMatch(/^wave 1: c1: MODEL_TRANSFER_FAILED: device c1: the answer was lost$/);
    expect(r.state.boards.c1).toMatchObject({
      state: 'rolled-back',
      switched: true,
      push_started: true,
      previous_sha256: shipped,
      serving_at_stop: shipped,
      error: expect.stringMatching(/the answer was lost/),
    });
    expect(r.state.boards.b1).toMatchObject({ state: 'untouched', push_started: false });
    expect(await shaOf('c1')).toBe(shipped);
  }, 240_000);
});
