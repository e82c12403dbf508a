/**
 * A broker that refuses an event for good (MQTT 5 PUBACK 0x87: its ACL denies the camera's event topic) must not
 * block the outbox: the refused event is dropped and counted, and every later event, of that camera or another,
 * still arrives. Real Mosquitto, whose ACL lets the board write `door` events but not `vault` ones.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonMetrics } from '../../src/observability/metrics.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { makeTrackEvent } from '../helpers/make-track-event.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';
import { waitUntil } from '../helpers/wait-until.js';

/** The board may write its own subtree except the `vault` camera's events; the operator reads everything. */
const ACL = [
  'user operator',
  'topic read faceedge/#',
  '',
  'user board',
  'topic readwrite faceedge/pi/bridge/#',
  'topic write faceedge/pi/availability',
  'topic write faceedge/pi/stats',
  'topic write faceedge/pi/door/events',
  '',
].join('\n');

describe('an event the broker refuses for good', { timeout: 90_000 }, () => {
  let dir: string;
  let broker: Mosquitto;
  let operator: MqttProbe;
  let output: MqttOutput | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-refused-'));
    const aclFile = join(dir, 'mosquitto.acl');
    writeFileSync(aclFile, ACL);
    broker = await Mosquitto.start({
      users: { operator: 'op-secret', board: 'board-secret' },
      config: [`acl_file ${aclFile}`],
    });
    operator = await MqttProbe.connect(broker.url, ['faceedge/pi/+/events'], {
      username: 'operator',
      password: 'op-secret',
    });
  });
  afterAll(async () => {
    await output?.stop();
    await operator?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is dropped and counted once per kind in the log; later events still arrive, in order', async () => {
    const metrics = new DaemonMetrics({ processMetrics: false });
    const lines: { level: number; msg: string; reason?: string }[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    output = testMqttOutput({
      url: broker.url,
      metrics,
      log,
      maxIncomingPacketBytes: 1 << 20, // MQTT 5, as with any external broker: PUBACKs carry reason codes
      mqtt: { username: 'board', password: 'board-secret' },
    });
    await output.start();
    await output.waitConnected();

    output.publishEvent(makeTrackEvent('door', 1));
    output.publishEvent(makeTrackEvent('vault', 2));
    output.publishEvent(makeTrackEvent('vault', 3));
    for (let i = 4; i <= 10; i++) output.publishEvent(makeTrackEvent('door', i));

    const doors = () => operator.messages.filter((m) => m.topic === 'faceedge/pi/door/events');
    await operator.waitUntil(() => doors().length >= 8, 20_000, `8 door events (have ${doors().length})`);
    await waitUntil(() => output?.queueDepth === 0, 10_000, 'an empty outbox');
    const ids = doors().map((m) => (JSON.parse(m.text) as { after: { id: string } }).after.id);
    expect(ids).toEqual([1, 4, 5, 6, 7, 8, 9, 10].map((n) => `door-${n}`));
    expect(operator.messages.filter((m) => m.topic.includes('/vault/'))).toEqual([]);

    expect(Object.fromEntries(output.refusedEvents)).toEqual({ not_authorized: 2 });
    expect(await metrics.metricsText()).toContain('faceedge_mqtt_outbox_refused_total{reason="not_authorized"} 2');
    // One error for the kind, not one per event, and no resend warnings.
    expect(lines.filter((l) => l.level === 50 && l.reason === 'not_authorized')).toHaveLength(1);
    expect(lines.filter((l) => /will resend/.test(l.msg))).toEqual([]);

    // The outbox is not stuck behind them: a later event still goes out at once.
    output.publishEvent(makeTrackEvent('door', 11));
    await operator.waitUntil(() => doors().length >= 9, 10_000, 'the 9th door event');
  });
});
