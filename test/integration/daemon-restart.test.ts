/**
 * A crash and a restart over the same state_dir, with the real daemon and Mosquitto: the next run
 * publishes the true `<cam>/face` state (a crashed run leaves `ON` retained), ends every track the
 * crashed run left open with `reason: "restart"` and its last published snapshot, and later runs number
 * their tracks after the crashed run's, so no id names two faces.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackNumber } from '../../src/pipeline/track-journal.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { eventsOn, type EventMessage } from '../helpers/track-events.js';

const classifier = testClassifierPath();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const ROOT = `faceedge/${TEST_DEVICE}`;
const EVENTS = `${ROOT}/walk/events`;
const FACE = `${ROOT}/walk/face`;

describe.skipIf(!classifier)(`restart after a crash (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-restart-'));
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`]);
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.dispose()));
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(
    file: string,
    source: Record<string, unknown> = { type: 'gif', path: CLIP, loop: true },
  ): DaemonProcess {
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(dir, 'state'),
      cameras: [{ name: 'walk', source }],
      extra: { tracker: { update_interval_ms: 200 } },
    });
    const daemon = DaemonProcess.start(config, { dir, classifier: classifier!, file });
    daemons.push(daemon);
    return daemon;
  }

  /** Events by outbox id, broker redeliveries counted once. */
  function unique(events: EventMessage[]): EventMessage[] {
    const seen = new Set<string>();
    return events.filter((e) => !seen.has(e.id) && seen.add(e.id));
  }

  it("ends the crashed run's open tracks (reason restart), resets the retained face state, and never reuses a track id", async () => {
    const first = start('first.yaml');
    await first.waitRunning();
    await probe.waitFor((m) => m.topic === FACE && m.text === 'ON', 30_000, 'face ON');
    // Wait until a track has been open for a while (an update after its new), then crash.
    await probe.waitUntil(
      () => eventsOn(probe.messages, EVENTS).some((e) => e.type === 'update'),
      30_000,
      'an update event',
    );
    first.signal('SIGKILL');
    await first.exited;
    const crashedEvents = unique(eventsOn(probe.messages, EVENTS));
    const lastOf = new Map<string, EventMessage>();
    for (const e of crashedEvents) lastOf.set(e.after.id, e);
    const open = [...lastOf.values()].filter((e) => e.type !== 'end');
    expect(open.length).toBeGreaterThan(0);
    const highest = Math.max(...crashedEvents.map((e) => trackNumber('walk', e.after.id)!));
    const mark = probe.messages.length;

    // The next run watches an empty scene: the retained face state must become OFF by itself.
    const empty = join(dir, 'empty.png');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .png()
      .toFile(empty);
    const second = start('second.yaml', { type: 'image', path: empty, loop: true, fps: 5 });
    await second.waitRunning();
    const faceAfter = await probe.waitUntil(
      () => probe.messages.slice(mark).find((m) => m.topic === FACE),
      20_000,
      'the face state after the restart',
    );
    expect(faceAfter).toMatchObject({ text: 'OFF', retain: false });
    // Every track open at the crash gets exactly one end, with reason restart and its last snapshot.
    await probe.waitUntil(
      () => {
        const ends = eventsOn(probe.messages.slice(mark), EVENTS).filter(
          (e) => (e as { reason?: string }).reason === 'restart',
        );
        return new Set(ends.map((e) => e.after.id)).size >= open.length;
      },
      20_000,
      'restart ends for every open track',
    );
    second.signal('SIGTERM');
    expect((await second.exited).code).toBe(0);
    // A late subscriber sees OFF retained.
    const late = await MqttProbe.connect(broker.url, [FACE]);
    expect(await late.waitFor(() => true, 5000, 'the retained face state')).toMatchObject({
      text: 'OFF',
      retain: true,
    });
    await late.close();

    // A third run over the same state_dir, on the clip again: its tracks are numbered after the crashed run's.
    const third = start('third.yaml');
    await third.waitRunning();
    await probe.waitUntil(
      () => eventsOn(probe.messages.slice(mark), EVENTS).some((e) => e.type === 'new' && !lastOf.has(e.after.id)),
      30_000,
      'a track of the third run',
    );
    third.signal('SIGTERM');
    expect((await third.exited).code).toBe(0);

    const after = unique(eventsOn(probe.messages.slice(mark), EVENTS)).filter(
      (e) => !crashedEvents.some((c) => c.id === e.id),
    );
    const restartEnds = after.filter((e) => (e as { reason?: string }).reason === 'restart');
    expect(restartEnds.map((e) => e.after.id).sort()).toEqual(open.map((e) => e.after.id).sort());
    for (const end of restartEnds) {
      const last = lastOf.get(end.after.id)!;
      expect(end.type).toBe('end');
      expect(end.before).toEqual(last.after);
      expect(end.after).toMatchObject({ ...last.after, end_time: expect.any(Number) });
      expect(end.after.end_time!).toBeGreaterThanOrEqual(last.after.start_time);
    }
    // The restart ends come before anything of the later runs.
    const ownIds = new Set(after.filter((e) => !lastOf.has(e.after.id)).map((e) => e.after.id));
    const firstOwn = after.findIndex((e) => ownIds.has(e.after.id));
    expect(Math.max(...restartEnds.map((e) => after.indexOf(e)))).toBeLessThan(firstOwn);
    // The later run's tracks are numbered after every id the crashed run published.
    for (const id of ownIds) expect(trackNumber('walk', id)!).toBeGreaterThan(highest);
    // The clean stops ended their runs' tracks themselves: only the crash needed restart ends.
    const stillOpen = [...ownIds].filter((id) => !after.some((e) => e.after.id === id && e.type === 'end'));
    expect(stillOpen).toEqual([]);
  }, 120_000);
});
