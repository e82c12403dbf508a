/**
 * The model-push receiver's view of the daemon's MQTT connection. The receiver was written against an
 * MQTT.js client; this adapter routes it through MqttOutput instead, whose subscriptions are renewed
 * on every reconnect (the daemon's clean session forgets them) and whose publish refuses to queue
 * while the broker is away.
 */
import type { PushClient } from '../model-push/model-push-receiver.js';
import type { MqttOutput } from '../mqtt/mqtt-output.js';

import type { PushMessageListener } from '../model-push/push-receiver-options.js';

type Listener = PushMessageListener;

export function pushClientFor(mqtt: Pick<MqttOutput, 'subscribe' | 'publish'>): PushClient {
  const listeners = new Set<Listener>();
  const unsubscribes = new Map<string, () => void>();
  return {
    subscribeAsync: async (filter) => {
      if (unsubscribes.has(filter)) return;
      unsubscribes.set(
        filter,
        mqtt.subscribe(filter, (topic, payload, _retained, origin) => {
          for (const listener of listeners) listener(topic, payload, undefined, origin ?? undefined);
        }),
      );
    },
    unsubscribeAsync: async (filter) => {
      unsubscribes.get(filter)?.();
      unsubscribes.delete(filter);
    },
    publishAsync: (topic, payload, options) => mqtt.publish(topic, payload, options),
    on: (_event, listener) => listeners.add(listener),
    removeListener: (_event, listener) => listeners.delete(listener),
  };
}
