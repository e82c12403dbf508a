/**
 * The board's side of the fleet, on a real daemon and Mosquitto: `device.tags` and how the model got
 * there in the retained bridge/info, retained stats with event counters, and the `model/rollback` bridge
 * request (guarded by if_sha256; back to classifier.model after a first install; a second rollback
 * undoes the first). Every switch still goes through the board's own checks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetConnection } from '../../src/fleet/fleet-connection.js';
import { watchFleet } from '../../src/fleet/fleet-status.js';
import type { BoardRow } from '../../src/fleet/fleet-view.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { TestFleet } from '../helpers/fleet-boards.js';
import { modelPackageSource, NO_MODEL_PACKAGE_REASON, sha256 } from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { waitUntil } from '../helpers/wait-until.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';

const SOURCE = modelPackageSource();
const ID = 'lobby-1';

describe.skipIf(!SOURCE)(`board side of the fleet (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-board-'));
  let broker: Mosquitto;
  let fleet: TestFleet;
  let ops: FleetConnection;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    fleet = new TestFleet(work, broker.url, SOURCE!);
    await fleet.start([{ id: ID, tags: ['lobby', 'door'] }]);
    ops = await FleetConnection.open({ url: broker.url });
  }, 150_000);

  afterAll(async () => {
    await ops?.close();
    await fleet?.dispose();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const info = () => ops.view.board(ID);
  const untilServing = (sha: string, installed: string) =>
    ops.view.board(ID)?.model?.sha256 === sha && ops.view.board(ID)?.model?.installed === installed
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`bridge/info never named ${sha} (${installed}): ${JSON.stringify(info()?.model)}`)),
            30_000,
          );
          const off = ops.onChange(() => {
            if (info()?.model?.sha256 === sha && info()?.model?.installed === installed)
              (clearTimeout(timer), off(), resolve());
          });
        });

  it("publishes tags and the model's origin in bridge/info, and stats retained with event counters", async () => {
    await untilServing(sha256(fleet.shippedModel), 'classifier.model');
    expect(info()).toMatchObject({ device: ID, online: true, tags: ['lobby', 'door'], model: { version: null } });
    // A subscriber arriving later gets the last stats at once (retained), with the event counters.
    const probe = await MqttProbe.connect(broker.url, []);
    try {
      await new Promise((r) => setTimeout(r, 2500));
      await probe.client.subscribeAsync(`faceedge/${ID}/stats`, { qos: 1 });
      const stats = await probe.waitFor((m) => m.topic === `faceedge/${ID}/stats`, 5000, 'retained stats');
      expect(stats.retain).toBe(true);
      const body = JSON.parse(stats.text) as {
        events_total: Record<string, number>;
        online_since: number;
        fps: Record<string, number>;
      };
      expect(body.online_since).toBeGreaterThan(Date.now() / 1000 - 300);
      expect(Object.keys(body.fps)).toEqual(['cam']);
      expect(typeof (body.events_total.cam ?? 0)).toBe('number');
    } finally {
      await probe.close();
    }
  });

  it('fleet status --watch: a snapshot first, then the boards that changed', async () => {
    const abort = new AbortController();
    const snapshots: BoardRow[][] = [];
    const changes: BoardRow[][] = [];
    const watching = watchFleet({
      url: broker.url,
      signal: abort.signal,
      intervalMs: 100,
      onSnapshot: (b) => snapshots.push([...b]),
      onChange: (c) => changes.push([...c]),
    });
    try {
      await waitUntil(() => snapshots.length > 0, 10_000, 'the first snapshot');
      expect(snapshots[0].map((b) => b.device)).toEqual([ID]);
      const from = changes.length;
      // A runtime option change republishes bridge/info: the watcher reports the board.
      await ops.request(ID, 'options', { detector: { score_threshold: 0.55 } });
      await waitUntil(
        () => changes.slice(from).some((c) => c.some((b) => b.device === ID)),
        10_000,
        'the board reported as changed',
      );
    } finally {
      abort.abort();
      await watching;
    }
  });

  it('model/rollback: refused without an installed model, guarded by if_sha256, back to classifier.model after a first install, undone by a second, and after a re-push back to classifier.model again', async () => {
    const shipped = sha256(fleet.shippedModel);
    const none = await ops.request(ID, 'model/rollback', {});
    expect(none).toMatchObject({ status: 'error', data: { code: 'MODEL_NO_PREVIOUS' } });

    const pkg = fleet.floatPackage('fleet-float');
    const pushed = await pushModelOverMqtt({ dir: pkg.dir, url: broker.url, deviceId: ID });
    expect(pushed.status.state).toBe('installed');
    await untilServing(pkg.sha256, 'model-store');

    const guarded = await ops.request(ID, 'model/rollback', { if_sha256: shipped });
    expect(guarded).toMatchObject({ status: 'ok', data: { rolled_back: false, model: { sha256: pkg.sha256 } } });

    const bad = await ops.request(ID, 'model/rollback', { if_sha256: 'nope' });
    expect(bad).toMatchObject({ status: 'error', data: { code: 'REQUEST_INVALID' } });

    const back = await ops.request(ID, 'model/rollback', { if_sha256: pkg.sha256 }, 60_000);
    expect(back).toMatchObject({
      status: 'ok',
      data: { rolled_back: true, source: 'configured', from: { sha256: pkg.sha256 }, model: { sha256: shipped } },
    });
    await untilServing(shipped, 'classifier.model');

    const again = await ops.request(ID, 'model/rollback', {}, 60_000);
    expect(again).toMatchObject({
      status: 'ok',
      data: { rolled_back: true, source: 'previous', model: { sha256: pkg.sha256 } },
    });
    await untilServing(pkg.sha256, 'model-store');

    // Pushing the same package again after a rollback to classifier.model is a real change for the board.
    await ops.request(ID, 'model/rollback', { if_sha256: pkg.sha256 }, 60_000);
    await untilServing(shipped, 'classifier.model');
    const repushed = await pushModelOverMqtt({ dir: pkg.dir, url: broker.url, deviceId: ID });
    expect(repushed.status.state).toBe('installed');
    await untilServing(pkg.sha256, 'model-store');
    // …and its rollback goes back to classifier.model, not to a `previous` left from the first install.
    const rolledAgain = await ops.request(ID, 'model/rollback', { if_sha256: pkg.sha256 }, 60_000);
    expect(rolledAgain).toMatchObject({
      status: 'ok',
      data: { rolled_back: true, source: 'configured', model: { sha256: shipped } },
    });
    await untilServing(shipped, 'classifier.model');
    expect(
      fleet
        .board(ID)
        .logs.filter((l) => l.level >= 50)
        .map((l) => l.msg),
    ).toEqual([]);
  }, 180_000);
});
