/**
 * Keeps Home Assistant told about this board, as a part (with `homeassistant.enabled`): the retained
 * device-discovery message is (re)published on every connect (MqttOutput resends retained state) and again
 * whenever HA announces a restart with `online` on `<prefix>/status`, since an HA without persisted
 * discovery has forgotten the device.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { buildHaDiscovery, isHaBirth, type HaDiscoveryInput, type HaMessage } from '../../mqtt/ha-discovery.js';
import { HomeAssistantTopics } from '../../mqtt/mqtt-topics.js';
import { definePart, type DaemonPart } from '../daemon-part.js';
import { componentLogger } from '../../observability/logger.js';
import type { MqttOutput } from '../../mqtt/mqtt-output.js';

export interface HaAnnouncerOptions {
  readonly mqtt: Pick<MqttOutput, 'subscribe' | 'setRetained' | 'publish'>;
  /** What to describe; read on start and on `refresh()`. */
  readonly describe: () => HaDiscoveryInput;
  /** HA discovery prefix (`homeassistant`). */
  readonly prefix: string;
  readonly log: Logger;
}

/** The board model from the device tree (`Raspberry Pi 5 Model B Rev 1.0`), or undefined off a board. */
export function boardModel(path = '/proc/device-tree/model'): string | undefined {
  try {
    const model = readFileSync(path, 'utf8').replace(/\0/g, '').trim();
    return model === '' ? undefined : model;
  } catch {
    return undefined;
  }
}

export class HaAnnouncer implements DaemonPart {
  readonly #o: HaAnnouncerOptions;
  #message: HaMessage | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(options: HaAnnouncerOptions) {
    this.#o = options;
  }

  start(): void {
    this.refresh();
    this.#unsubscribe = this.#o.mqtt.subscribe(
      new HomeAssistantTopics(this.#o.prefix).status,
      (topic, payload, retained) => {
        // A retained birth is replayed on every subscribe: the connect already republished discovery.
        if (retained || !isHaBirth(topic, payload, this.#o.prefix) || !this.#message) return;
        const { topic: t, payload: body } = this.#message;
        this.#o.mqtt.publish(t, body, { qos: 1, retain: true }).then(
          () => this.#o.log.info({ topic: t }, 'Home Assistant restarted: discovery republished'),
          (err: Error) => this.#o.log.warn({ err: err.message }, 'cannot republish Home Assistant discovery'),
        );
      },
    );
  }

  /** Rebuilds the message (after a change of what it describes) and publishes it if it changed. */
  refresh(): void {
    this.#message = buildHaDiscovery({ ...this.#o.describe(), discoveryPrefix: this.#o.prefix });
    this.#o.mqtt.setRetained(this.#message.topic, this.#message.payload);
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }
}

export const homeAssistantPart = definePart({
  name: 'homeassistant',
  slice: (config) =>
    config.homeassistant.enabled
      ? {
          prefix: config.homeassistant.discovery_prefix,
          baseTopic: config.mqtt.base_topic,
          device: config.device,
          cameras: config.cameras.map((c) => c.name),
          gpio: config.gpio,
          recognition: config.recognition.enabled,
        }
      : null,
  create: (slice, { services, log }) =>
    new HaAnnouncer({
      mqtt: services.mqtt,
      prefix: slice.prefix,
      log: componentLogger(log, 'homeassistant'),
      describe: () => ({
        baseTopic: slice.baseTopic,
        deviceId: slice.device.id,
        deviceName: slice.device.name,
        version: services.version,
        model: boardModel(),
        cameras: slice.cameras,
        recognition: slice.recognition,
        classes: services.classifier.current.labels,
        unsure: services.classifier.current.unsureFloor > 0,
        attributes: services.classifiers.more.map((m) => ({
          name: m.name,
          classes: m.holder.current.labels,
          unsure: m.holder.current.unsureFloor > 0,
        })),
        outputs: Object.entries(slice.gpio.outputs).map(([name, o]) => ({
          name,
          title: o.title,
          lock: o.lock,
          unlockMs: o.unlock_ms,
        })),
        inputs: Object.entries(slice.gpio.inputs).map(([name, i]) => ({
          name,
          title: i.title,
          deviceClass: i.device_class,
        })),
      }),
    }),
});
