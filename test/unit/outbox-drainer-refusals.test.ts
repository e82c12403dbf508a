/**
 * Which MQTT 5 PUBACK refusals drop an event and which retry it. The broker's answers are scripted here because
 * no real broker can be made to answer "quota exceeded" or "server busy" on demand; the permanent refusal itself
 * is tested on a real Mosquitto in test/integration/mqtt-refused-publish.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorWithReasonCode, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { EventOutbox } from '../../src/mqtt/event-outbox.js';
import { OutboxDrainer } from '../../src/mqtt/outbox-drainer.js';
import { waitUntil } from '../helpers/wait-until.js';

/** A connected client whose broker answers each publish of a topic with the next scripted reason code. */
function scriptedClient(answers: Record<string, number[]>): { client: MqttClient; sent: string[] } {
  const sent: string[] = [];
  const client = {
    connected: true,
    publish(topic: string, payload: string, _opts: unknown, done: (err?: Error) => void) {
      sent.push(topic);
      const code = answers[topic]?.shift() ?? 0;
      setImmediate(() => done(code >= 0x80 ? new ErrorWithReasonCode(`Publish error: ${code}`, code) : undefined));
    },
  };
  return { client: client as unknown as MqttClient, sent };
}

function run(answers: Record<string, number[]>) {
  const outbox = EventOutbox.open({
    dir: mkdtempSync(join(tmpdir(), 'faceedge-drainer-')),
    maxEvents: 100,
    log: silentLogger(),
  });
  const { client, sent } = scriptedClient(answers);
  const refused: string[] = [];
  const drainer = new OutboxDrainer({
    outbox,
    client,
    log: silentLogger(),
    maxInflight: 1,
    onRefused: (r) => refused.push(r),
  });
  for (const topic of ['a', 'b', 'c']) outbox.append(topic, { topic });
  drainer.kick();
  return { outbox, sent, refused, drainer };
}

describe('OutboxDrainer and MQTT 5 PUBACK refusals', () => {
  it.each([
    ['0x87', 0x87, 'not_authorized'],
    ['0x90', 0x90, 'topic_name_invalid'],
    ['0x95', 0x95, 'packet_too_large'],
    ['0x99', 0x99, 'payload_format_invalid'],
  ])('drops an event refused with %s for good and sends the next ones', async (_hex, code, reason) => {
    const { outbox, sent, refused } = run({ b: [code] });
    await waitUntil(() => outbox.depth === 0, 5000, 'an empty outbox');
    expect(sent).toEqual(['a', 'b', 'c']);
    expect(refused).toEqual([reason]);
    outbox.close();
  });

  it.each([
    ['0x97', 0x97],
    ['0x89', 0x89],
  ])('resends an event refused with %s (it heals by waiting), in order', async (_hex, code) => {
    const { outbox, sent, refused, drainer } = run({ b: [code] });
    await waitUntil(() => sent.length >= 2, 5000, 'b sent');
    // The drainer resends on the next kick (the next append or reconnect), as for a lost connection.
    await waitUntil(() => drainer.inflightCount === 0, 5000, 'the refusal');
    expect(outbox.depth).toBe(2);
    drainer.kick();
    await waitUntil(() => outbox.depth === 0, 5000, 'an empty outbox');
    expect(sent).toEqual(['a', 'b', 'b', 'c']);
    expect(refused).toEqual([]);
    outbox.close();
  });
});
