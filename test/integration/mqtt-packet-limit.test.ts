/**
 * The embedded broker's packet bound: a client whose packet declares more than `maxPacketBytes` is
 * disconnected before the packet is read (a raw socket that sends only the header of a 100 MB PUBLISH is
 * closed at once), the message reaches nobody, and the broker keeps serving everyone else. The daemon's
 * bound is derived from the enrolment bounds (the largest request): checked to cover a full `faces/add`.
 * Real aedes on loopback, real MQTT.js clients.
 */
import { connect as connectTcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_MQTT_PACKET_BYTES } from '../../src/daemon/mqtt-packet-limit.js';
import { EmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { PacketSizeMeter } from '../../src/mqtt/mqtt-packet-guard.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ENROLMENT_BOUNDS } from '../../src/recognition/board-gallery.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';

describe('embedded broker: maximum packet size', { timeout: 60_000 }, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('closes a client whose packet is too large, delivers nothing of it, and keeps serving the others', async () => {
    const warnings: unknown[] = [];
    const log = silentLogger();
    log.warn = ((obj: unknown) => void warnings.push(obj)) as typeof log.warn;
    const broker = new EmbeddedBroker({ port: 0, log, maxPacketBytes: 4096 });
    cleanup.push(() => broker.stop());
    const url = await broker.start();
    const watcher = await MqttProbe.connect(url, ['t/#']);
    cleanup.push(() => watcher.close());
    const sender = await MqttProbe.connect(url, []);
    cleanup.push(() => sender.close());

    await sender.publish('t/small', 'x'.repeat(1000), { qos: 1 });
    await watcher.waitFor((m) => m.topic === 't/small');
    const closed = new Promise<void>((resolve) => sender.client.once('close', () => resolve()));
    sender.client.publish('t/big', 'y'.repeat(10_000), { qos: 0 });
    await closed;
    expect(warnings).toContainEqual(expect.objectContaining({ max_packet_bytes: 4096 }));

    // A raw client that declares a 100 MB PUBLISH and sends only its header: closed without the body.
    const raw = connectTcp(broker.port, '127.0.0.1');
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    const connectPacket = Buffer.from([
      0x10, 0x0f, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x03, 0x72, 0x61, 0x77,
    ]);
    const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    raw.write(connectPacket);
    raw.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x30])); // PUBLISH, remaining length 100,663,296
    await rawClosed;

    // The broker still serves: a new client publishes, the watcher (never disconnected) receives.
    const again = await MqttProbe.connect(url, []);
    cleanup.push(() => again.close());
    await again.publish('t/after', 'ok', { qos: 1 });
    await watcher.waitFor((m) => m.topic === 't/after');
    expect(watcher.on('t/big')).toEqual([]);
  });

  it('the meter follows packet boundaries across chunks and measures the whole packet', () => {
    const meter = new PacketSizeMeter(130);
    // A 2-byte-length packet of 127 bytes body (total 130), split inside the length and the body.
    expect(meter.accept(Buffer.from([0x30, 0xff]))).toBeNull();
    expect(meter.accept(Buffer.concat([Buffer.from([0x00]), Buffer.alloc(100)]))).toBeNull();
    expect(meter.accept(Buffer.concat([Buffer.alloc(27), Buffer.from([0xc0, 0x00])]))).toBeNull(); // + PINGREQ
    expect(meter.accept(Buffer.from([0x30, 0x80, 0x01]))).toBe(1 + 2 + 128);
  });

  it('the daemon’s bound covers a full faces/add (the largest request)', () => {
    const photo = Math.ceil(ENROLMENT_BOUNDS.maxPhotoBytes / 3) * 4;
    expect(MAX_MQTT_PACKET_BYTES).toBeGreaterThan(ENROLMENT_BOUNDS.maxPhotos * (photo + 3) + 1024);
    expect(MAX_MQTT_PACKET_BYTES).toBeLessThan(64 * 1024 * 1024);
  });
});
