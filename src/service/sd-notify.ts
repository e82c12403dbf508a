/**
 * systemd's notify protocol (sd_notify(3)) for a `Type=notify` unit: READY=1 once the daemon serves,
 * WATCHDOG=1 at half of `WatchdogSec` while it is healthy, STOPPING=1 on shutdown, STATUS= for
 * `systemctl status`. Without `NOTIFY_SOCKET` (a shell, a test, the demo) every call is a no-op.
 *
 *   const notify = createSdNotifier(env, { log });       // env: the one process.env read
 *   await daemon.start(); notify.ready('running');
 *   notify.startWatchdog(() => daemon.healthFacts().started);
 *   …; notify.stopping(); await daemon.stop(); notify.close();
 */
import { UnixDatagramSender } from './unix-datagram-socket.js';
import { errorLogFields } from '../observability/error-log-fields.js';

/** What the notifier needs from the environment (a `process.env` slice). */
export interface SdNotifyEnv {
  readonly NOTIFY_SOCKET?: string;
  readonly WATCHDOG_USEC?: string;
  readonly WATCHDOG_PID?: string;
}

/** Transport seam: the real one is a unix datagram socket. */
export interface NotifyTransport {
  send(address: string, message: Buffer): void;
  close(): void;
}

export interface SdNotifierOptions {
  /** Our PID, compared with `WATCHDOG_PID`. Default `process.pid`. */
  readonly pid?: number;
  /** Send failures are logged here, never thrown from timers. Default: silent. */
  readonly log?: { warn(obj: object, msg: string): void };
  /** Default: a koffi-backed AF_UNIX datagram socket, opened on first send. */
  readonly transport?: () => NotifyTransport;
}

export interface SdNotifier {
  /** True when `NOTIFY_SOCKET` names a socket we can send to. */
  readonly enabled: boolean;
  /** Watchdog ping period (half of `WATCHDOG_USEC`), ms; null when the watchdog is off or not ours. */
  readonly watchdogIntervalMs: number | null;
  /** READY=1, with an optional STATUS=. */
  ready(status?: string): void;
  /** STATUS=<text> (one line; newlines become spaces). */
  status(text: string): void;
  /** WATCHDOG=1. */
  watchdog(): void;
  /** STOPPING=1, with an optional STATUS=. Also stops the watchdog timer. */
  stopping(status?: string): void;
  /**
   * Pings WATCHDOG=1 every `watchdogIntervalMs` while `healthy()` returns true, so systemd restarts a
   * daemon that is wedged (event loop stalled) or unhealthy, not just one that exited. The timer does
   * not keep the process alive. No-op without a watchdog.
   */
  startWatchdog(healthy?: () => boolean): void;
  /** Stops the watchdog and closes the socket. Idempotent. */
  close(): void;
}

/** Formats `KEY=value` assignments as the protocol wants: one per line. */
export function formatNotifyMessage(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`)
    .join('\n');
}

/**
 * Half of `WATCHDOG_USEC`, in ms (systemd's own advice, so one late ping is not fatal); null when
 * unset, unparsable, zero, or when `WATCHDOG_PID` names another process (the watchdog is not ours).
 */
export function watchdogIntervalMs(env: SdNotifyEnv, pid: number): number | null {
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return null;
  if (!env.WATCHDOG_USEC || !/^\d+$/.test(env.WATCHDOG_USEC)) return null;
  const usec = Number(env.WATCHDOG_USEC);
  return usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : null;
}

/** Builds the notifier from the environment; every method is a no-op without `NOTIFY_SOCKET`. */
export function createSdNotifier(env: SdNotifyEnv, options: SdNotifierOptions = {}): SdNotifier {
  const pid = options.pid ?? process.pid;
  const address = env.NOTIFY_SOCKET ?? '';
  // systemd ≥ 254 may also hand out `vsock:` addresses (inside VMs); faceedge runs on boards, not VMs.
  const enabled = address.startsWith('/') || (address.startsWith('@') && address.length > 1);
  if (address && !enabled)
    options.log?.warn(
      { notify_socket: address },
      'NOTIFY_SOCKET is not a unix socket path or @abstract name: sd_notify disabled',
    );
  const interval = enabled ? watchdogIntervalMs(env, pid) : null;
  const openTransport = options.transport ?? (() => UnixDatagramSender.open());
  let transport: NotifyTransport | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const send = (fields: Record<string, string>): void => {
    if (!enabled || closed) return;
    try {
      transport ??= openTransport();
      transport.send(address, Buffer.from(formatNotifyMessage(fields), 'utf8'));
    } catch (err) {
      // systemd notices a missing READY or WATCHDOG by itself (start timeout, watchdog restart);
      // crashing the daemon over a notification would only make that worse.
      options.log?.warn(errorLogFields(err), 'sd_notify failed');
    }
  };
  const stopTimer = (): void => {
    if (timer) clearInterval(timer);
    timer = null;
  };

  return {
    enabled,
    watchdogIntervalMs: interval,
    ready: (status) => send(status === undefined ? { READY: '1' } : { READY: '1', STATUS: status }),
    status: (text) => send({ STATUS: text }),
    watchdog: () => send({ WATCHDOG: '1' }),
    stopping: (status) => {
      stopTimer();
      send(status === undefined ? { STOPPING: '1' } : { STOPPING: '1', STATUS: status });
    },
    startWatchdog: (healthy = () => true) => {
      if (interval === null || closed) return;
      stopTimer();
      timer = setInterval(() => {
        if (healthy()) send({ WATCHDOG: '1' });
      }, interval);
      timer.unref();
    },
    close: () => {
      stopTimer();
      closed = true;
      transport?.close();
      transport = null;
    },
  };
}
