/**
 * A real Mosquitto broker for integration tests: its own generated config on a free loopback port,
 * killed afterwards. `restart()` comes back on the same port, so clients reconnect by themselves.
 *
 *   const broker = await Mosquitto.start();          // broker.url = mqtt://127.0.0.1:<port>
 *   await broker.stop(); await broker.restart();     // an outage
 *   afterAll(() => broker.stop());
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Users allowed to connect (a password file is generated); anonymous clients are then refused. */
  readonly users?: Readonly<Record<string, string>>;
  /**
   * Keep sessions, subscriptions, retained and queued messages across `stop()`/`restart()` (saved on
   * SIGTERM). Needed when a test subscriber must receive what was published while it reconnected.
   * Default false.
   */
  readonly persistence?: boolean;
  /** Serve TLS instead of plain TCP with these PEM files. */
  readonly tls?: {
    readonly cert: string;
    readonly key: string;
    readonly ca?: string;
    readonly requireClientCert?: boolean;
  };
  /** More config lines, appended as given (an acl_file, a bridge `connection` block…). */
  readonly config?: readonly string[];
  /** With `config` carrying its own password_file: refuse anonymous clients. Default: anonymous only without `users`. */
  readonly allowAnonymous?: boolean;
}

function writePasswordFile(passwordFile: string, users: Readonly<Record<string, string>>): void {
  writeFileSync(passwordFile, '', { mode: 0o600 });
  for (const [user, password] of Object.entries(users)) {
    const r = spawnSync('mosquitto_passwd', ['-b', passwordFile, user, password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
  }
}

export { freePort };

/** True when something accepts a TCP connection on the loopback port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class Mosquitto {
  #child: ChildProcess | null = null;
  #output = '';

  readonly #dir: string;
  readonly #configFile: string;

  private constructor(
    /** Loopback port, the same across restarts. */
    readonly port: number,
    dir: string,
    configFile: string,
  ) {
    this.#dir = dir;
    this.#configFile = configFile;
  }

  /** Starts a broker and resolves once it accepts connections. */
  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-mosquitto-'));
    const lines = [
      // Started as root, mosquitto would switch to user "mosquitto", which cannot write our temp dir.
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'max_queued_messages 100000',
    ];
    if (options.users) {
      const passwordFile = join(dir, 'passwd');
      writePasswordFile(passwordFile, options.users);
      lines.push('allow_anonymous false', `password_file ${passwordFile}`);
    } else {
      lines.push(`allow_anonymous ${options.allowAnonymous ?? true}`);
    }
    if (options.persistence) lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 0');
    if (options.tls) {
      lines.push(`certfile ${options.tls.cert}`, `keyfile ${options.tls.key}`);
      if (options.tls.ca) lines.push(`cafile ${options.tls.ca}`);
      if (options.tls.requireClientCert) lines.push('require_certificate true');
    }
    if (options.config) lines.push(...options.config);
    const configFile = join(dir, 'mosquitto.conf');
    writeFileSync(configFile, lines.join('\n') + '\n');
    const broker = new Mosquitto(port, dir, configFile);
    await broker.#launch();
    return broker;
  }

  /**
   * Starts `mosquitto -c <configFile>` with the file exactly as given — no `user` line added, so a
   * broker started as root drops to the `mosquitto` user as Debian's service does — and resolves once
   * it accepts connections on `port` (one of the file's listeners).
   */
  static async startConfigured(configFile: string, port: number): Promise<Mosquitto> {
    const broker = new Mosquitto(port, mkdtempSync(join(tmpdir(), 'faceedge-mosquitto-')), configFile);
    await broker.#launch();
    return broker;
  }

  /** `mqtt://127.0.0.1:<port>` (`mqtts://` for a TLS broker is the caller's to build). */
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Process id of the running broker (RSS measurements), null while stopped. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Everything the broker wrote to stderr so far, for failure messages. */
  get log(): string {
    return this.#output;
  }

  async #launch(): Promise<void> {
    const child = spawn(MOSQUITTO_BIN, ['-c', this.#configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.#output += chunk));
    let exited = false;
    child.once('exit', () => {
      exited = true;
      if (this.#child === child) this.#child = null;
    });
    this.#child = child;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`mosquitto exited at start:\n${this.#output}`);
      if (await canConnect(this.port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill('SIGKILL');
    throw new Error(`mosquitto did not listen on ${this.port} within 10 s:\n${this.#output}`);
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.#child = null;
  }

  /**
   * Replaces the users of a broker started with `users` and makes the running broker reload its
   * password file (SIGHUP), as an administrator fixing an account does; connected clients stay.
   */
  setUsers(users: Readonly<Record<string, string>>): void {
    writePasswordFile(join(this.#dir, 'passwd'), users);
    this.#child?.kill('SIGHUP');
  }

  /** Graceful stop (SIGTERM; persistence is saved). Idempotent. */
  async stop(): Promise<void> {
    await this.#terminate('SIGTERM');
  }

  /** Abrupt stop (SIGKILL): nothing is saved, clients see their socket drop. */
  async kill(): Promise<void> {
    await this.#terminate('SIGKILL');
  }

  /** Starts again on the same port and config (after stop/kill; stops first if running). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
  }

  /** Stops the broker and deletes its config and persistence. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
