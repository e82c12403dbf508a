/** sd_notify over a real AF_UNIX datagram socket (a python3 receiver with SO_PASSCRED, like systemd). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSdNotifier,
  formatNotifyMessage,
  watchdogIntervalMs,
  type NotifyTransport,
} from '../../src/service/sd-notify.js';
import { encodeSockaddrUn } from '../../src/service/unix-datagram-socket.js';
import { NotifyReceiver } from '../helpers/notify-receiver.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function tempSocketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'faceedge-notify-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'notify.sock');
}

const NO_SYSTEMD_NOTIFY =
  spawnSync('systemd-notify', ['--version']).status === 0
    ? ''
    : 'systemd-notify is not installed (Debian package: systemd)';

async function receiver(address: string): Promise<NotifyReceiver> {
  const r = await NotifyReceiver.start(address);
  cleanups.push(() => r.stop());
  return r;
}

describe('sd_notify protocol pieces', () => {
  it('formats one assignment per line and keeps STATUS on one line', () => {
    expect(formatNotifyMessage({ READY: '1', STATUS: 'two\nlines' })).toBe('READY=1\nSTATUS=two lines');
  });

  it('pings at half of WATCHDOG_USEC, only when the watchdog is ours', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42)).toBeNull();
    expect(watchdogIntervalMs({}, 42)).toBeNull();
  });

  it('encodes abstract names without a terminator and paths with one', () => {
    const abstract = encodeSockaddrUn('@abc');
    expect([...abstract]).toEqual([1, 0, 0, 0x61, 0x62, 0x63]);
    const path = encodeSockaddrUn('/run/x');
    expect(path.length).toBe(2 + 6 + 1);
    expect(path.at(-1)).toBe(0);
    expect(() => encodeSockaddrUn('/' + 'x'.repeat(200))).toThrow(/longer than/);
  });

  it('is a no-op without NOTIFY_SOCKET: no socket is even opened', () => {
    let opened = 0;
    const transport = (): NotifyTransport => {
      opened++;
      return { send() {}, close() {} };
    };
    const n = createSdNotifier({ WATCHDOG_USEC: '1000000' }, { transport });
    n.ready('x');
    n.watchdog();
    n.startWatchdog();
    n.stopping();
    n.close();
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeNull();
    expect(opened).toBe(0);
  });
});

describe('sd_notify to a real unix datagram socket', () => {
  it('delivers READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 from our own PID (NotifyAccess=main accepts them)', async () => {
    const path = tempSocketPath();
    const r = await receiver(path);
    const n = createSdNotifier({ NOTIFY_SOCKET: path });
    n.ready('serving 2 cameras');
    n.watchdog();
    n.status('reloading model');
    n.stopping();
    n.close();
    const got = await r.waitFor(4);
    expect(got.map((d) => d.message)).toEqual([
      'READY=1\nSTATUS=serving 2 cameras',
      'WATCHDOG=1',
      'STATUS=reloading model',
      'STOPPING=1',
    ]);
    expect(new Set(got.map((d) => d.pid))).toEqual(new Set([process.pid]));
  });

  it('reaches an abstract socket named with @', async () => {
    const name = `@faceedge-test-${process.pid}-${Date.now()}`;
    const r = await receiver(name);
    const n = createSdNotifier({ NOTIFY_SOCKET: name });
    n.ready();
    n.close();
    expect((await r.waitFor(1))[0]).toEqual({ pid: process.pid, message: 'READY=1' });
  });

  it('feeds the watchdog at half of WATCHDOG_USEC while healthy, and stops when unhealthy or stopping', async () => {
    const path = tempSocketPath();
    const r = await receiver(path);
    let healthy = true;
    const n = createSdNotifier({ NOTIFY_SOCKET: path, WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid) });
    expect(n.watchdogIntervalMs).toBe(50);
    n.startWatchdog(() => healthy);
    await r.waitFor(3);
    healthy = false;
    await new Promise((res) => setTimeout(res, 250)); // let an in-flight ping land
    const frozen = r.received.length;
    await new Promise((res) => setTimeout(res, 300));
    expect(r.received.length).toBe(frozen);
    healthy = true;
    await r.waitFor(frozen + 1);
    n.stopping();
    await r.waitFor(frozen + 2);
    const afterStop = r.received.length;
    await new Promise((res) => setTimeout(res, 300));
    expect(r.received.length).toBe(afterStop);
    expect(r.received.at(-1)!.message).toBe('STOPPING=1');
    expect(r.received.slice(0, 3).every((d) => d.message === 'WATCHDOG=1')).toBe(true);
    n.close();
  });

  it('logs, never throws, when the socket is gone', () => {
    const warnings: object[] = [];
    const n = createSdNotifier(
      { NOTIFY_SOCKET: join(tmpdir(), `faceedge-no-such-${process.pid}.sock`) },
      { log: { warn: (o) => warnings.push(o) } },
    );
    expect(() => n.ready()).not.toThrow();
    n.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'NOTIFY_FAILED' });
    // An expected failure: its message, no Error object (whose stack would be logged).
    expect((warnings[0] as { err: unknown }).err).toEqual(expect.stringMatching(/ENOENT/));
  });
});

describe.skipIf(NO_SYSTEMD_NOTIFY)('sd_notify against the reference client', () => {
  it('sends byte for byte what systemd-notify sends for the same notifications', async () => {
    const path = tempSocketPath();
    const r = await receiver(path);
    const env = { ...process.env, NOTIFY_SOCKET: path };
    // --no-block: without it systemd-notify adds a BARRIER=1 round trip that only a real manager answers.
    for (const args of [['--ready', '--status=serving 2 cameras'], ['WATCHDOG=1'], ['STOPPING=1']]) {
      expect(spawnSync('systemd-notify', ['--no-block', ...args], { env }).status).toBe(0);
    }
    const reference = (await r.waitFor(3)).map((d) => d.message);
    const n = createSdNotifier({ NOTIFY_SOCKET: path });
    n.ready('serving 2 cameras');
    n.watchdog();
    n.stopping();
    n.close();
    const ours = (await r.waitFor(6)).slice(3).map((d) => d.message);
    expect(ours).toEqual(reference);
  });
});
