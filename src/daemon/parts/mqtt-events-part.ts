/**
 * The board's MQTT side as a part: it connects first (so every later part's retained state is sent on
 * connect) and disconnects last, publishing `offline` (src/mqtt/mqtt-output.ts). Every track event goes to
 * the journal and then into the outbox (the journal must know whatever reached the outbox); face presence
 * and capture status become retained states; a model swap or an options change republishes bridge/info.
 *
 * At start the tracks a crashed run left open get their `end` (reason `restart`), and every camera's face
 * state starts `OFF`: the true state until a face is tracked (a crash may have left `ON` retained).
 */
import type { DaemonBus } from '../daemon-bus.js';
import { definePart, type DaemonPart } from '../daemon-part.js';
import type { DaemonServices } from '../daemon-services.js';

class MqttEventsPart implements DaemonPart {
  readonly #cameras: readonly string[];
  readonly #services: DaemonServices;

  constructor(cameras: readonly string[], bus: DaemonBus, services: DaemonServices) {
    this.#cameras = cameras;
    this.#services = services;
    const { mqtt, journal } = services;
    bus.on('trackEvents', (_camera, events) => {
      for (const event of events) {
        journal.record(event);
        mqtt.publishEvent(event);
      }
    });
    bus.on('facePresence', (camera, present) => mqtt.setFace(camera, present));
    bus.on('captureStatus', (camera, status) => mqtt.setCaptureStatus(camera, status.state === 'online'));
    bus.on('cameraFailed', (camera) => mqtt.setCaptureStatus(camera, false));
    // republishInfo never rejects (a failure is logged), and bridge/info is sent again on every connect.
    // Any model's swap (the first one's included) changes bridge/info's `model` or `models`.
    bus.on('classifierChanged', () => void mqtt.republishInfo());
    bus.on('optionsChanged', () => void mqtt.republishInfo());
  }

  async start(): Promise<void> {
    const { mqtt, journal } = this.#services;
    await mqtt.start();
    for (const event of journal.takeLeftovers()) mqtt.publishEvent(event);
    for (const camera of this.#cameras) mqtt.setFace(camera, false);
  }

  stop(): Promise<void> {
    return this.#services.mqtt.stop();
  }
}

export const mqttEventsPart = definePart({
  name: 'mqtt',
  slice: (config) => ({ cameras: config.cameras.map((c) => c.name) }),
  create: (slice, { bus, services }) => new MqttEventsPart(slice.cameras, bus, services),
});
