/**
 * Broker outages with the real daemon: events produced while Mosquitto is down wait in the on-disk
 * outbox and arrive exactly once, in `seq` order, when it is back; and a daemon killed during an
 * outage leaves them on disk for the next daemon over the same state_dir, which sends them first.
 *
 * The subscriber keeps a persistent session (clean: false) on a broker with persistence, so it misses
 * nothing while it reconnects itself. A message the broker redelivers to it (flagged `dup`: its own
 * PUBACK was lost in the restart) is the broker's doing, not the daemon's, and is not counted twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSegments, readAckWatermark, readSegment, type OutboxEntry } from '../../src/mqtt/outbox-files.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { httpGet, metricValue } from '../helpers/http-get.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { expectSeqOrder, type EventMessage } from '../helpers/track-events.js';

const classifier = testClassifierPath();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const EVENTS = `faceedge/${TEST_DEVICE}/walk/events`;

/** Outbox entries not acknowledged by the broker, as a restarted daemon will find them. */
function undelivered(outboxDir: string): OutboxEntry[] {
  const watermark = readAckWatermark(outboxDir);
  return listSegments(outboxDir).flatMap((name) =>
    readSegment(join(outboxDir, name)).entries.filter((e) => e.seq > watermark),
  );
}

describe.skipIf(!classifier)(`broker outage with the real daemon (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-outage-'));
    broker = await Mosquitto.start({ persistence: true });
    probe = await MqttProbe.connect(broker.url, [EVENTS], { clean: false, clientId: 'faceedge-outage-probe' });
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.dispose()));
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Events received, broker redeliveries (dup of an id already seen) left out. */
  function received(): EventMessage[] {
    const seen = new Set<string>();
    const out: EventMessage[] = [];
    for (const m of probe.messages) {
      if (m.topic !== EVENTS) continue;
      const e = JSON.parse(m.text) as EventMessage;
      if (m.dup && seen.has(e.id)) continue;
      seen.add(e.id);
      out.push(e);
    }
    return out;
  }

  async function metrics(port: number): Promise<{ depth: number; connected: number; produced: number }> {
    const { body } = await httpGet(port, '/metrics');
    const produced = ['new', 'update', 'end'].reduce(
      (n, t) => n + (metricValue(body, `faceedge_events_total{camera="walk",type="${t}"}`) || 0),
      0,
    );
    return {
      depth: metricValue(body, 'faceedge_mqtt_queue_depth'),
      connected: metricValue(body, 'faceedge_mqtt_connected'),
      produced,
    };
  }

  async function startDaemon(httpPort: number): Promise<DaemonProcess> {
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(dir, 'state'),
      cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
      httpPort,
      // Frequent updates: more events per second of outage.
      extra: { tracker: { update_interval_ms: 250 } },
    });
    const daemon = DaemonProcess.start(config, { dir, classifier: classifier! });
    daemons.push(daemon);
    await daemon.waitRunning();
    return daemon;
  }

  /** Polls /metrics until `check` holds. */
  async function waitMetrics(
    port: number,
    check: (m: Awaited<ReturnType<typeof metrics>>) => boolean,
    what: string,
    timeoutMs = 20_000,
  ) {
    let last = { depth: NaN, connected: NaN, produced: NaN };
    const deadline = Date.now() + timeoutMs;
    while (!check((last = await metrics(port)))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last metrics ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return last;
  }

  it('events produced while the broker is down arrive once each, in seq order, after it restarts on the same port', async () => {
    const port = await freePort();
    const daemon = await startDaemon(port);
    await probe.waitUntil(() => received().length >= 2, 30_000, 'two events before the outage');

    await broker.stop();
    const beforeOutage = received().at(-1)!.seq;
    // The daemon keeps processing the looping clip: new events pile up in the outbox.
    const during = await waitMetrics(port, (m) => m.connected === 0 && m.depth >= 3, 'events queued during the outage');
    expect(daemon.exitStatus).toBeNull();

    await broker.restart();
    const after = await waitMetrics(
      port,
      (m) => m.connected === 1 && m.depth === 0,
      'the outbox drained after the restart',
    );
    // Everything produced so far was acknowledged by the broker: the subscriber gets all of it.
    await probe.waitUntil(() => (received().at(-1)?.seq ?? 0) >= after.produced, 15_000, `seq ${after.produced}`);

    const events = received();
    expectSeqOrder(events);
    // No gap and no repeat from the first event on: seq 1, 2, 3, … in arrival order.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const queued = events.filter((e) => e.seq > beforeOutage);
    expect(queued.length).toBeGreaterThanOrEqual(during.depth);
    expect(after.produced).toBeGreaterThanOrEqual(beforeOutage + during.depth);
  });

  it('a daemon killed during an outage leaves its events on disk; the next one over the same state_dir sends them first, once each', async () => {
    const first = daemons[0]!;
    const port = Number(first.logs.find((l) => l.msg === 'faceedge running')!.health_port);
    await broker.stop();
    await waitMetrics(port, (m) => m.connected === 0 && m.depth >= 2, 'events queued during the second outage');
    first.signal('SIGKILL');
    await first.exited;

    const leftovers = undelivered(join(dir, 'state', 'outbox'));
    expect(leftovers.length).toBeGreaterThanOrEqual(2);
    const beforeRestart = received().length;
    // Nothing of them can have arrived: the broker was down the whole time.
    expect(received().filter((e) => leftovers.some((l) => l.id === e.id))).toEqual([]);

    await broker.restart();
    const second = await startDaemon(await freePort());
    const lastLeftover = leftovers.at(-1)!.seq;
    await probe.waitUntil(
      () => (received().at(-1)?.seq ?? 0) > lastLeftover,
      20_000,
      `events past seq ${lastLeftover}`,
    );

    const events = received();
    const resent = events.slice(beforeRestart, beforeRestart + leftovers.length);
    expect(resent.map((e) => e.id)).toEqual(leftovers.map((l) => l.id));
    // Byte for byte what was stored: the same event, not a re-run of the pipeline.
    expect(resent).toEqual(leftovers.map((l) => l.payload));
    expectSeqOrder(events);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    // The new daemon continues the numbering after the leftovers, never reusing a seq.
    expect(
      second.logs.some((l) => l.msg === 'outbox has undelivered events from before' && l.pending === leftovers.length),
    ).toBe(true);
  });
});
