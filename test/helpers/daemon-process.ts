/**
 * The real daemon as a child process: `faceedge run --config <tmp yaml>` through tsx, exactly as an
 * operator starts it, with its pino JSON lines parsed so a test can wait for a log entry, and signals
 * for SIGTERM/SIGKILL scenarios.
 *
 *   const daemon = await DaemonProcess.start(daemonConfig({ brokerUrl, stateDir, cameras }));
 *   await daemon.waitForLog((l) => l.msg === 'faceedge running');
 *   daemon.signal('SIGTERM'); expect((await daemon.exited).code).toBe(0);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { EventWaiters } from './event-waiters.js';
import { REPO_ROOT, runCli } from './run-cli.js';

const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** One pino line: `msg`, `level` (30 info, 40 warn, 50 error) and the logged fields. */
export interface LogEntry {
  readonly level: number;
  readonly msg: string;
  readonly component?: string;
  readonly camera?: string;
  /** When the test process read the line (Date.now()), to order logs against MQTT arrivals. */
  readonly seenAt: number;
  readonly [field: string]: unknown;
}

export interface DaemonExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface DaemonConfigOptions {
  /** Broker of the test (Mosquitto); absent = the daemon starts its embedded broker on a free port. */
  readonly brokerUrl?: string;
  /** state_dir (the outbox lives in `<stateDir>/outbox`). */
  readonly stateDir: string;
  readonly cameras: readonly { readonly name: string; readonly source: Record<string, unknown> }[];
  /** `/healthz` + `/metrics` port; 0 (default) = no HTTP server. */
  readonly httpPort?: number;
  /** Sections merged over the defaults below (`tracker`, `mqtt` keys…). */
  readonly extra?: Record<string, unknown>;
}

/** Device id every daemon test uses: topics are `faceedge/testdev/…`. */
export const TEST_DEVICE = 'testdev';

/**
 * A config for tests: device `testdev`, the full-range detector (the clips' faces are 20–60 px), quick
 * reconnects, `log.level: info`. The classifier comes through `FACEEDGE_CLASSIFIER__MODEL` (see start()).
 */
export function daemonConfig(o: DaemonConfigOptions): Record<string, unknown> {
  const extra = o.extra ?? {};
  const mqttExtra = (extra.mqtt ?? {}) as Record<string, unknown>;
  return {
    ...extra,
    device: { id: TEST_DEVICE },
    mqtt: { ...(o.brokerUrl ? { url: o.brokerUrl } : {}), reconnect_period_ms: 200, ...mqttExtra },
    ...(o.brokerUrl ? {} : { embedded_broker: { port: 0 } }),
    cameras: o.cameras,
    detector: { model: 'full', ...((extra.detector ?? {}) as object) },
    http: { host: '127.0.0.1', port: o.httpPort ?? 0 },
    log: { level: 'info' },
    state_dir: o.stateDir,
  };
}

export class DaemonProcess {
  readonly logs: LogEntry[] = [];
  /** Settles when the process has exited. */
  readonly exited: Promise<DaemonExit>;
  #stderrText = '';
  #partial = '';
  readonly #waiters = new EventWaiters();
  #exit: DaemonExit | null = null;

  readonly #child: ChildProcess;

  private constructor(
    child: ChildProcess,
    /** The YAML file it was started with. */
    readonly configFile: string,
  ) {
    this.#child = child;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.#onStdout(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.#stderrText += chunk));
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        this.#waiters.wake();
        resolve(this.#exit);
      });
    });
  }

  /**
   * Writes `config` as YAML into `dir` and starts `faceedge run --config` on it.
   * @param classifier the .tflite model, passed as `FACEEDGE_CLASSIFIER__MODEL` (the env path operators use);
   *   absent for a config with a `classifiers:` list.
   * @param env added to the clean environment (e.g. the GPIO stand-ins' PATH and FACEEDGE_GPIO_SIM*).
   * @param built run `dist/src/cli/main.js` (after `npm run build`) instead of the sources through tsx.
   */
  static start(
    config: Record<string, unknown>,
    options: { dir: string; classifier?: string; file?: string; env?: NodeJS.ProcessEnv; built?: boolean },
  ): DaemonProcess {
    const configFile = join(options.dir, options.file ?? 'faceedge.yaml');
    writeFileSync(configFile, stringify(config));
    // built: the compiled release (`npm run build`), as a board runs it; default the sources through tsx.
    const entry = options.built
      ? [join(REPO_ROOT, 'dist/src/cli/main.js')]
      : ['--import', TSX_LOADER, join(REPO_ROOT, 'src/cli/main.ts')];
    const child = spawn(process.execPath, [...entry, 'run', '--config', configFile], {
      cwd: REPO_ROOT,
      env: {
        ...daemonEnv(),
        ...options.env,
        // Absent: the config's own classifiers: list serves (the env variable would be a second classifier section).
        ...(options.classifier !== undefined && { FACEEDGE_CLASSIFIER__MODEL: options.classifier }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new DaemonProcess(child, configFile);
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Null while running. */
  get exitStatus(): DaemonExit | null {
    return this.#exit;
  }

  /** Everything written to stderr (the CLI's one-line errors; TFLite's banner). */
  get stderr(): string {
    return this.#stderrText;
  }

  /** Sends a signal (no-op once exited). */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit === null) this.#child.kill(signal);
  }

  /** Resolves with the first log entry (past or future) matching `match`; rejects on timeout or exit. */
  waitForLog(match: (entry: LogEntry) => boolean, timeoutMs = 20_000, what = 'log entry'): Promise<LogEntry> {
    return this.#waiters.until(
      () => this.logs.find(match),
      timeoutMs,
      () => `timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`,
      () =>
        this.#exit === null ? null : `daemon exited (${JSON.stringify(this.#exit)}) before ${what}\n${this.describe()}`,
    );
  }

  /** Waits for the "faceedge running" line (every component started). */
  waitRunning(timeoutMs = 30_000): Promise<LogEntry> {
    return this.waitForLog((l) => l.msg === 'faceedge running', timeoutMs, '"faceedge running"');
  }

  /** SIGKILLs it if still running and waits for the exit; for afterEach/afterAll. */
  async dispose(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** The last log lines and stderr, for failure messages. */
  describe(lines = 15): string {
    const tail = this.logs.slice(-lines).map((l) => JSON.stringify(l).slice(0, 300));
    return `--- last daemon logs ---\n${tail.join('\n')}\n--- stderr ---\n${this.#stderrText.slice(-2000)}`;
  }

  #onStdout(chunk: string): void {
    const text = this.#partial + chunk;
    const lines = text.split('\n');
    this.#partial = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        this.logs.push({ ...(JSON.parse(line) as { level: number; msg: string }), seenAt: Date.now() });
      } catch {
        // Not a log line (a stray print): ignored.
      }
    }
    this.#waiters.wake();
  }
}

/**
 * `faceedge <args…>` to completion with the same clean environment as the daemon (no `FACEEDGE_*` from
 * the developer's shell); `env` adds variables. Resolves with the exit code and output.
 */
export function runFaceedge(
  args: readonly string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(args, { env: { ...daemonEnv(), ...options.env }, timeoutMs: options.timeoutMs });
}

/**
 * This process's environment without `FACEEDGE_*`: the daemon reads such variables as config overrides,
 * so a developer's exported FACEEDGE_MQTT__URL must not redirect a test daemon; only what a test sets
 * gets through.
 */
function daemonEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FACEEDGE_')));
}

/** Labels of the classifier's manifest (`manifest.json` beside the model), for plausibility checks. */
export function manifestLabels(modelPath: string): string[] {
  const manifest = JSON.parse(readFileSync(join(modelPath, '..', 'manifest.json'), 'utf8')) as { labels: string[] };
  return manifest.labels;
}
