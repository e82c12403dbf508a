/**
 * `classifier.delegate: libedgetpu.so.1` on a machine without the EdgeTPU runtime (this one, and a board
 * whose Coral is unplugged): the daemon still starts, falls back to XNNPACK, and says why in the
 * retained bridge/info and in health_check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const classifier = testClassifierPath();
const ROOT = `faceedge/${TEST_DEVICE}`;
const EDGETPU = 'libedgetpu.so.1';

function edgeTpuInstalled(): boolean {
  try {
    koffi.load(EDGETPU);
    return true;
  } catch {
    return false;
  }
}
const SKIP = !classifier
  ? NO_CLASSIFIER_REASON
  : edgeTpuInstalled()
    ? `${EDGETPU} is installed here: nothing to fall back from`
    : '';

describe.skipIf(SKIP !== '')(`delegate fallback reported by the daemon (${SKIP || EDGETPU + ' absent'})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-delegate-'));
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`]);
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(dir, 'state'),
      cameras: [],
      extra: { classifier: { delegate: EDGETPU, delegate_options: { device: 'usb' } } },
    });
    daemon = DaemonProcess.start(config, { dir, classifier: classifier! });
    await daemon.waitRunning(60_000);
  }, 90_000);
  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes the active delegate and the fallback reason in bridge/info and serves with XNNPACK', async () => {
    const info = JSON.parse(
      (await probe.waitFor((m) => m.topic === `${ROOT}/bridge/info`, 15_000, 'bridge/info')).text,
    );
    expect(info.delegate.active).toBe('xnnpack');
    expect(info.delegate.fallback_reason).toContain(EDGETPU);
    expect(info.config.classifier).toMatchObject({ delegate: EDGETPU, delegate_options: { device: 'usb' } });

    await probe.publish(`${ROOT}/bridge/request/health_check`, '{}');
    const health = JSON.parse(
      (await probe.waitFor((m) => m.topic === `${ROOT}/bridge/response/health_check`, 15_000, 'health_check')).text,
    );
    expect(health.data.model.delegate).toBe('xnnpack');
  });
});
