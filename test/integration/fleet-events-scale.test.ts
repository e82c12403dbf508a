/**
 * Events at scale on real Mosquitto brokers: MQTT 5 shared subscriptions split a burst between the
 * consumers of one group (disjoint, none lost); a site broker bridged to a central one with the config
 * `faceedge fleet bridge-config` writes carries fleet status, a rollout, and a real daemon's events
 * through an outage of the central broker (QoS 1 queued on the site, persistent sessions), none lost.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetStatus } from '../../src/fleet/fleet-status.js';
import { runRollout } from '../../src/fleet/rollout.js';
import { FleetTopics } from '../../src/mqtt/mqtt-topics.js';
import { runFaceedge } from '../helpers/daemon-process.js';
import { TestFleet } from '../helpers/fleet-boards.js';
import { modelPackageSource, NO_MODEL_PACKAGE_REASON } from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { eventsOn } from '../helpers/track-events.js';
import { waitUntil } from '../helpers/wait-until.js';

const SOURCE = modelPackageSource();
const topics = new FleetTopics('faceedge');

describe('MQTT 5 shared subscriptions for event consumers', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(() => broker?.dispose());

  it('two consumers in one $share group get disjoint parts of a burst that together are all of it', async () => {
    const group = topics.sharedEvents('analytics');
    const c1 = await MqttProbe.connect(broker.url, [group], { protocolVersion: 5 });
    const c2 = await MqttProbe.connect(broker.url, [group], { protocolVersion: 5 });
    const publisher = await MqttProbe.connect(broker.url, []);
    const N = 400;
    try {
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          publisher.publish(`faceedge/dev${i % 4}/cam/events`, JSON.stringify({ seq: i })),
        ),
      );
      await waitUntil(
        () => c1.messages.length + c2.messages.length >= N,
        20_000,
        `${N} events between the two consumers (got ${c1.messages.length} + ${c2.messages.length})`,
      );
      await new Promise((r) => setTimeout(r, 300)); // nothing more (no duplicates) arrives
      const seqs = (p: MqttProbe) => p.messages.map((m) => (JSON.parse(m.text) as { seq: number }).seq);
      const [a, b] = [seqs(c1), seqs(c2)];
      expect(a.length + b.length).toBe(N);
      expect(new Set([...a, ...b]).size).toBe(N);
      expect(a.filter((s) => b.includes(s))).toEqual([]);
      // The broker spreads the load (Mosquitto: round robin): each consumer has a real share.
      expect(Math.min(a.length, b.length)).toBeGreaterThan(N / 4);
    } finally {
      await Promise.all([c1.close(), c2.close(), publisher.close()]);
    }
  });
});

describe('fleet status of 50 boards', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(() => broker?.dispose());

  it("reads 50 boards' retained state (bridge/info of the real size, stats, availability, capture) in one snapshot", async () => {
    // The boards' retained topics as daemons leave them (sizes as measured by fleet-sim), published once.
    const publisher = await MqttProbe.connect(broker.url, []);
    const config = { padding: 'x'.repeat(1500) };
    try {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const t = topics.device(`site-${String(i).padStart(2, '0')}`);
          const info = {
            version: '0.1.0',
            tags: [i % 2 ? 'odd' : 'even'],
            model: { id: 'm', sha256: 'a'.repeat(64), installed: 'classifier.model', version: null },
            delegate: { active: 'xnnpack', fallback_reason: null },
            cameras: ['cam'],
            config,
          };
          const stats = {
            fps: { cam: 2 },
            stages_ms: {},
            delegate: 'xnnpack',
            cpu_temperature_c: null,
            queue_depth: 0,
            events_total: { cam: i },
            last_event_time: {},
            online_since: Date.now() / 1000,
            time: Date.now() / 1000,
          };
          await publisher.publish(t.availability, i === 7 ? 'offline' : 'online', { retain: true });
          await publisher.publish(t.bridgeInfo, JSON.stringify(info), { retain: true });
          await publisher.publish(t.stats, JSON.stringify(stats), { retain: true });
          await publisher.publish(t.captureStatus('cam'), 'online', { retain: true });
        }),
      );
    } finally {
      await publisher.close();
    }
    const t0 = Date.now();
    const { boards } = await fleetStatus({ url: broker.url });
    const ms = Date.now() - t0;
    expect(boards).toHaveLength(50);
    expect(boards.filter((b) => b.online).length).toBe(49);
    expect(boards.every((b) => b.model?.sha256 === 'a'.repeat(64) && b.cameras[0]?.fps === 2)).toBe(true);
    // Issue 12 asks for < 2 s; the bound here leaves room for a loaded CI machine (measured: see docs/fleet.md).
    expect(ms).toBeLessThan(4000);
    console.log(`fleet status of 50 boards: ${ms} ms`);
  });
});

describe.skipIf(!SOURCE)(`a site broker bridged to a central broker (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-bridge-'));
  let central: Mosquitto;
  let site: Mosquitto;
  let fleet: TestFleet;

  beforeAll(async () => {
    central = await Mosquitto.start({ persistence: true });
    const conf = join(work, 'bridge.conf');
    const r = await runFaceedge([
      'fleet',
      'bridge-config',
      '--site',
      's1',
      '--central',
      `127.0.0.1:${central.port}`,
      '--restart-timeout',
      '1,2',
      '--out',
      conf,
    ]);
    expect(r.code, r.stderr).toBe(0);
    site = await Mosquitto.start({
      persistence: true,
      config: readFileSync(conf, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('#')),
    });
    fleet = new TestFleet(work, site.url, SOURCE!, 8);
    await fleet.start([{ id: 'site-1', tags: ['s1'] }]);
  }, 150_000);

  afterAll(async () => {
    await fleet?.dispose();
    await site?.dispose();
    await central?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('fleet status and a rollout work from the central broker', async () => {
    const seen = async () => (await fleetStatus({ url: central.url })).boards.find((b) => b.device === 'site-1');
    let row = await seen();
    for (let i = 0; i < 20 && row?.online !== true; i++)
      row = (await new Promise((r) => setTimeout(r, 500)), await seen());
    expect(row).toMatchObject({ online: true, tags: ['s1'], cameras: [{ name: 'cam', capture: 'online' }] });

    const pkg = fleet.floatPackage('bridged');
    const watcher = await MqttProbe.connect(central.url, ['faceedge/site-1/model/push/+/status']);
    try {
      const result = await runRollout({
        url: central.url,
        packageDir: pkg.dir,
        selector: { devices: ['site-1'] },
        canary: 1,
        soakS: 2,
        baselineS: 2,
        statePath: join(work, 'rollout.json'),
        thresholds: { minFrameRatio: 0.5, minEventRatio: 0, minBaselineEvents: 5 },
      });
      expect(result.ok, JSON.stringify(result.state)).toBe(true);
      expect(result.state.boards['site-1'].state).toBe('healthy');
      expect((await seen())?.model?.sha256).toBe(pkg.sha256);
      // Statuses cross the bridge once each: no loop between the "out" and "in" push topics.
      const statuses = watcher.messages.length;
      expect(statuses).toBeGreaterThan(1);
      await new Promise((r) => setTimeout(r, 1000));
      expect(watcher.messages.length).toBe(statuses);
      expect(statuses).toBeLessThan(20);
    } finally {
      await watcher.close();
    }
  }, 120_000);

  it('events published on the site during an outage of the central broker all reach a central consumer afterwards', async () => {
    const events = 'faceedge/site-1/cam/events';
    const truth = await MqttProbe.connect(site.url, [events]);
    const consumer = await MqttProbe.connect(central.url, [events], { clientId: 'central-consumer', clean: false });
    try {
      await consumer.waitUntil(
        () => eventsOn(consumer.messages, events).length > 0,
        30_000,
        'an event across the bridge',
      );
      await central.stop();
      const outageFrom = eventsOn(truth.messages, events).at(-1)?.seq ?? 0;
      await truth.waitUntil(
        () => eventsOn(truth.messages, events).some((e) => e.seq > outageFrom + 2),
        60_000,
        'events on the site during the outage',
      );
      const outageTo = eventsOn(truth.messages, events).at(-1)!.seq;
      await central.restart();
      await consumer.waitUntil(
        () => eventsOn(consumer.messages, events).some((e) => e.seq >= outageTo),
        60_000,
        `event ${outageTo} at the centre`,
      );
      const got = new Set(eventsOn(consumer.messages, events).map((e) => e.seq));
      const first = Math.min(...got);
      const missing = eventsOn(truth.messages, events)
        .map((e) => e.seq)
        .filter((s) => s >= first && s <= outageTo && !got.has(s));
      expect(missing).toEqual([]);
    } finally {
      await truth.close();
      await consumer.close();
    }
  }, 180_000);
});
