/**
 * `faceedge run`: the daemon. `--demo` runs it on the bundled CC BY 4.0 scene clips with the
 * embedded broker, prints every event as a subscriber receives it, and serves the live view on
 * loopback (its URL is printed).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import sharp from 'sharp';
import type { FaceedgeConfig } from '../../config/config-schema.js';
import { loadConfig } from '../../config/load-config.js';
import { configSecrets } from '../../config/redact-config.js';
import { FaceedgeError } from '../../errors.js';
import { Daemon } from '../../daemon/daemon.js';
import { packageRoot, shippedModelPath } from '../../inference/shipped-model.js';
import { watchNpmLauncher } from '../../service/launcher-watch.js';
import { createSdNotifier } from '../../service/sd-notify.js';
import { componentLogger, createLogger } from '../../observability/logger.js';
import { EventPrinter } from '../../mqtt/event-printer.js';

interface RunFlags {
  config?: string;
  demo?: boolean;
  loop?: boolean;
  mqttUrl?: string;
  httpPort?: string;
  logLevel?: string;
}

/** Port of the demo's live view when it is free; otherwise any free port is taken. */
export const DEMO_LIVE_VIEW_PORT = 9464;

/** `port` when nothing listens on it at `host`, else a free port the system picks. */
async function freePortPreferring(host: string, port: number): Promise<number> {
  const tryListen = (p: number) =>
    new Promise<number | null>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(p, host, () => {
        const bound = (server.address() as { port: number }).port;
        server.close(() => resolve(bound));
      });
    });
  return (await tryListen(port)) ?? (await tryListen(0)) ?? port;
}

/**
 * What the demo sets unless the file, `FACEEDGE_*` or a flag says otherwise: the live view on loopback,
 * so a newcomer sees the boxes and events in a browser at once. Loopback only: the page needs no
 * password there, and the demo opens nothing to the network.
 */
async function demoDefaults(): Promise<Record<string, unknown>> {
  const host = '127.0.0.1';
  return { 'http.host': host, 'http.port': await freePortPreferring(host, DEMO_LIVE_VIEW_PORT) };
}

/** The live view's address for a browser on this machine (a wildcard listen address is reached at loopback). */
export function liveViewUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/live/`;
}

/** The demo: every GIF in demo/clips as one camera each, once (or looped), broker on any free port. */
function demoOverrides(loop: boolean, stateDir: string): Record<string, unknown> {
  const clips = join(packageRoot(), 'demo', 'clips');
  const files = existsSync(clips)
    ? readdirSync(clips)
        .filter((f) => f.endsWith('.gif'))
        .sort()
    : [];
  return {
    cameras: files.map((file, i) => ({ name: `demo${i + 1}`, source: { type: 'gif', path: join(clips, file), loop } })),
    // The clips are CCTV-style: faces 20–60 px, several metres away — the full-range detector's job.
    'detector.model': 'full',
    'embedded_broker.port': 0,
    state_dir: stateDir,
  };
}

/** The configuration `run` serves: file, environment and flags, the demo's clips, the package's own model. */
async function runConfig(flags: RunFlags, env: NodeJS.ProcessEnv): Promise<FaceedgeConfig> {
  const overrides: Record<string, unknown> = {
    'mqtt.url': flags.mqttUrl,
    'http.port': flags.httpPort,
    'log.level': flags.logLevel ?? (flags.demo ? 'warn' : undefined),
  };
  if (flags.demo) Object.assign(overrides, demoOverrides(Boolean(flags.loop), join(packageRoot(), '.faceedge-demo')));
  const loaded = loadConfig({
    file: flags.config,
    env,
    flags: overrides,
    defaults: flags.demo ? await demoDefaults() : undefined,
  });
  // The default model path is relative to the package, wherever the daemon is started from.
  const packaged = <C extends { model: string; manifest: string }>(c: C): C =>
    !existsSync(c.model) && c.model === 'models/faceedge-gender_int8.tflite'
      ? { ...c, model: shippedModelPath(), manifest: join(packageRoot(), 'models', 'manifest.json') }
      : c;
  return { ...loaded, classifier: packaged(loaded.classifier), classifiers: loaded.classifiers.map(packaged) };
}

/** The demo prints what a subscriber receives: its printer subscribes before the first frame. */
async function startDemoPrinter(config: FaceedgeConfig, url: string, log: Logger): Promise<EventPrinter> {
  // An embedded broker with a login asks it of the printer too.
  const login = config.mqtt.url === undefined ? config.embedded_broker.auth : undefined;
  const printer = new EventPrinter({
    url,
    baseTopic: config.mqtt.base_topic,
    deviceId: config.device.id,
    log,
    connectOptions: login ? { username: login.username, password: login.password } : undefined,
  });
  await printer.start();
  console.log(
    `faceedge demo: ${config.cameras.length} clips, embedded broker ${url}, model ${config.classifier.model}`,
  );
  return printer;
}

export function registerRunCommand(program: Command, env: NodeJS.ProcessEnv, version: string): void {
  program
    .command('run')
    .description('run the daemon (cameras → faces → MQTT events)')
    .option('-c, --config <file>', 'YAML configuration file')
    .option('--demo', 'run on the bundled scene clips with the embedded broker, printing each event')
    .option('--loop', 'with --demo: loop the clips until stopped')
    .option('--mqtt-url <url>', 'broker URL (overrides mqtt.url)')
    .option('--http-port <port>', 'health/metrics/live view port, 0 = off (overrides http.port)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .action(async (flags: RunFlags) => {
      const config = await runConfig(flags, env);
      const log = createLogger({ level: config.log.level, secrets: configSecrets(config) });
      // Every frame is a new image: libvips' operation cache only costs memory, and one libvips worker
      // per decode keeps the inference thread's core free on a 4-core board.
      sharp.cache(false);
      sharp.concurrency(1);
      let printer: EventPrinter | null = null;
      const daemon = new Daemon({
        config,
        log,
        version,
        env,
        // The demo prints what a subscriber receives; it subscribes before the first frame.
        beforeCameras: flags.demo
          ? async (url) => {
              printer = await startDemoPrinter(config, url, log);
              if (daemon.healthPort > 0)
                console.log(
                  `live view: ${liveViewUrl(config.http.host, daemon.healthPort)} ` +
                    (flags.loop ? '(Ctrl-C stops)' : '(the clips end in seconds: --loop keeps them playing)'),
                );
            }
          : undefined,
      });
      // systemd's Type=notify protocol; a no-op when not started by systemd (no NOTIFY_SOCKET).
      const notify = createSdNotifier(env, { log: componentLogger(log, 'systemd') });
      const shutdown = async () => {
        launcher?.stop();
        notify.stopping('stopping');
        await daemon.stop();
        notify.close();
        await printer?.stop();
        log.flush();
      };
      let signalled = false;
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        // `once`: a second Ctrl-C during a slow stop gets the default action and ends the process.
        process.once(signal, () => {
          signalled = true;
          log.info({ signal }, 'stopping');
          void shutdown().then(
            () => process.exit(0),
            (err: unknown) => {
              log.error({ err }, 'stop failed');
              log.flush();
              process.exit(1);
            },
          );
        });
      }
      // Under npx / npm run, a signal to npm does not reach us (its `sh -c` dies without passing it on):
      // stop when npm is gone, through the same path as a SIGTERM.
      const launcher = watchNpmLauncher(env, (pid) => {
        log.info({ npm_pid: pid }, 'npm, which started the daemon, has exited: stopping');
        process.kill(process.pid, 'SIGTERM');
      });
      try {
        await daemon.start();
      } catch (err) {
        // Whatever did start (broker, MQTT connection, health port) is released before the error is shown.
        await shutdown();
        throw err;
      }
      notify.ready(`serving ${config.cameras.length} camera(s)`);
      if (daemon.healthPort > 0) log.info({ url: liveViewUrl(config.http.host, daemon.healthPort) }, 'live view');
      // A wedged event loop misses the ping and systemd restarts us; cameras have their own watchdogs.
      notify.startWatchdog(() => daemon.healthFacts().started);
      if (config.cameras.length === 0) log.warn('no cameras configured: the daemon only serves MQTT requests');
      else {
        await daemon.camerasDone;
        if (!signalled) {
          log.info('every source has ended');
          await shutdown();
          const failed = [...daemon.failedCameras];
          if (failed.length > 0) {
            throw new FaceedgeError(
              'SOURCE_FAILED',
              `camera(s) could not start:\n  ${failed.map(([name, err]) => `${name}: ${err.message}`).join('\n  ')}`,
              {
                hint: "check each camera's source in the configuration (`faceedge config check` validates keys, not files or devices)",
              },
            );
          }
        }
      }
    });
}
