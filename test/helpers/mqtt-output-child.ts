/**
 * Child process for crash tests: runs an MqttOutput, optionally publishes events, prints one line
 * `READY <queue depth>` and then waits to be killed (SIGKILL: no clean disconnect, no flush).
 *
 *   node --import tsx test/helpers/mqtt-output-child.ts '{"url":…,"dir":…,"deviceId":…,"events":5,"waitConnected":true}'
 */
import { silentLogger } from '../../src/observability/logger.js';
import { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { makeTrackEvent } from './make-track-event.js';

interface ChildArgs {
  url: string;
  dir: string;
  deviceId: string;
  events?: number;
  waitConnected?: boolean;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const output = new MqttOutput({
  url: args.url,
  mqtt: {
    base_topic: 'faceedge',
    client_id: `faceedge-child-${process.pid}`,
    keepalive: 5,
    reconnect_period_ms: 200,
    outbox: { dir: args.dir, max_events: 1000 },
  },
  deviceId: args.deviceId,
  bridgeInfo: () => ({ version: 'child', model: null, delegate: { active: 'cpu', fallback_reason: null }, config: {} }),
  log: silentLogger(),
});
await output.start();
if (args.waitConnected) await output.waitConnected(10_000);
for (let i = 1; i <= (args.events ?? 0); i++) output.publishEvent(makeTrackEvent('door', i));
process.stdout.write(`READY ${output.queueDepth}\n`);
setInterval(() => {}, 60_000);
