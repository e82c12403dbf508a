/**
 * `faceedge fleet push <image pkg> --head <head pkg> --name age` against a real daemon on a real Mosquitto
 * (issue 24 §3): the pair is rolled out as one package into the age model's store (its version holds the head),
 * although the board already serves that image model (only the head is new), and passes the gate; the same
 * rollout again finds the board answering `unchanged` and skips it, with nothing to gate or roll back.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutState } from '../../src/fleet/rollout-state.js';
import { runFaceedge } from '../helpers/daemon-process.js';
import { AGE_DIR, AGE_HEAD_DIR, ageHeadPackage, ageImagePackage, agePairMissing } from '../helpers/age-pair-fixture.js';
import { TestFleet } from '../helpers/fleet-boards.js';
import { modelPackageSource } from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const SOURCE = modelPackageSource();
const missing = agePairMissing() ?? (SOURCE ? null : 'no shipped gender package');
const GATE = ['--soak', '3', '--baseline', '3', '--min-event-ratio', '0'];

describe.skipIf(missing !== null)(`fleet push of a pair (${missing ?? 'models/age present'})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-pair-'));
  let broker: Mosquitto;
  let fleet: TestFleet;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    fleet = new TestFleet(work, broker.url, SOURCE!);
    await fleet.start([
      {
        id: 'p1',
        classifiers: [
          { name: 'gender', model: fleet.shippedModel },
          {
            name: 'age',
            model: join(AGE_DIR, 'faceedge-age_int8.tflite'),
            head: join(AGE_HEAD_DIR, 'faceedge-age-head_float32.tflite'),
            interval_ms: 1000,
          },
        ],
      },
    ]);
  }, 240_000);

  afterAll(async () => {
    await fleet?.dispose();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const rollout = (image: string, head: string, state: string) =>
    runFaceedge(
      [
        'fleet',
        'push',
        image,
        '--head',
        head,
        '--mqtt',
        broker.url,
        '--name',
        'age',
        '--devices',
        'p1',
        ...GATE,
        '--state',
        join(work, state),
        '--json',
      ],
      { timeoutMs: 240_000 },
    );

  it('rolls the pair out by name, head included, and skips a board that already has that very pair', async () => {
    const key = fleet.signing.privateKey;
    const image = ageImagePackage(join(work, 'image'), key, 'faceedge-age-v2');
    const head = ageHeadPackage(join(work, 'head'), key);
    const r = await rollout(image, head, 'pair.json');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const done = JSON.parse(r.stdout) as RolloutState;
    expect(done.status).toBe('completed');
    expect(done.boards.p1).toMatchObject({ state: 'healthy' });
    const store = join(work, 'boards', 'p1', 'state', 'models', 'age', 'versions');
    const versions = readdirSync(store);
    expect(versions).toHaveLength(1);
    expect(existsSync(join(store, versions[0], 'head', 'manifest.json'))).toBe(true);
    await fleet.board('p1').waitForLog((l) => l.msg === 'head swapped' && l.model === 'age', 30_000, 'head swapped');

    const again = await rollout(image, head, 'pair-again.json');
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect((JSON.parse(again.stdout) as RolloutState).boards.p1).toMatchObject({ state: 'skipped' });
    expect(again.stderr).toMatch(/p1: already serves faceedge-age-v2-[0-9a-f]{12}, skipped/);

    // The same image model with a retrained head, given the completed rollout's state: not "done", refused.
    const head2 = ageHeadPackage(join(work, 'head-2'), key, (m) => void (m.id = 'faceedge-age-head-2'));
    // Its dry run pushes to the board although it serves that image model: only the board can tell its head.
    const plan = await runFaceedge(
      ['fleet', 'push', image, '--head', head2, '--mqtt', broker.url, '--name', 'age', '--devices', 'p1', '--dry-run'],
      { timeoutMs: 120_000 },
    );
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^1\s+p1\s+online\s+[0-9a-f]{12}\s+push$/m);
    const other = await rollout(image, head2, 'pair.json');
    expect(other.code, other.stderr + other.stdout).not.toBe(0);
    expect(other.stderr).toMatch(
      /pair\.json belongs to a rollout with head [0-9a-f]{12}…, not with head [0-9a-f]{12}…/,
    );
  }, 600_000);
});
