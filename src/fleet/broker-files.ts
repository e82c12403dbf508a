/**
 * The Mosquitto side of `faceedge fleet credentials`: the folder the broker reads (`<out>/broker/`),
 * laid out for Debian's (and Raspberry Pi OS's) packaged Mosquitto, which systemd starts as root and
 * which then drops to the `mosquitto` user before it reads its password and ACL files (and again on every
 * reload). So the folder and its files belong to that user and nobody else may read the secrets in them:
 *
 *   broker/                  0750 mosquitto:mosquitto
 *     mosquitto.conf         0644  the listeners; link it as /etc/mosquitto/conf.d/faceedge.conf
 *     boards.passwd          0600  board accounts (user name = device id), hashed by mosquitto_passwd
 *     operators.passwd       0600  operator accounts
 *     mosquitto.acl          0600  broker-acl.ts
 *     ca.pem                 0644  with --certs: the site CA, to check board certificates
 *     server.pem, server.key 0644 / 0600  with --certs --server-name: the broker's certificate
 *
 * Client ids are pinned to accounts: on the boards' listeners `use_username_as_clientid` makes every
 * board's client id its user name (its device id, or its certificate's CN), so one board's account can
 * never connect as another board and take its session over. Operators (fleet commands, event consumers)
 * need client ids of their own — a rollout opens several connections at once — so they log in on their
 * own listener, which knows only the operator accounts: a board's password or certificate is no use there.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { mosquittoAcl } from './broker-acl.js';

/** Listener ports: boards with a password, boards with a certificate, operators (plain, or TLS with a server certificate). */
export interface BrokerPorts {
  readonly boards: number;
  readonly boardsTls: number;
  readonly operators: number;
  readonly operatorsTls: number;
}

export const BROKER_PORTS: BrokerPorts = { boards: 1883, boardsTls: 8883, operators: 1884, operatorsTls: 8884 };

export interface BrokerFileOptions {
  /** Where to write the broker's folder. */
  readonly dir: string;
  /** The folder's path as the broker will see it, written into mosquitto.conf. Default `dir`. */
  readonly brokerDir?: string;
  /** [user, password] of each board with a password (none: no password listener for boards). */
  readonly boards: readonly (readonly [string, string])[];
  /** [user, password] of each operator account. */
  readonly operators: readonly (readonly [string, string])[];
  /** The boards' `mqtt.base_topic`. Default `faceedge`. */
  readonly baseTopic?: string;
  /** Home Assistant discovery prefix. Default `homeassistant`. */
  readonly haPrefix?: string;
  /** With client certificates: the site CA, and the broker's own certificate when one was issued. */
  readonly tls?: { readonly ca: string; readonly serverCert?: string; readonly serverKey?: string };
  readonly ports?: Partial<BrokerPorts>;
  /** The user Mosquitto drops to. Default `mosquitto`. */
  readonly brokerUser?: string;
}

export interface BrokerFiles {
  /** Files written, relative to `dir`. */
  readonly files: string[];
  /** The user that now owns them; null when they could not be handed over (not root, or no such user here). */
  readonly owner: string | null;
}

const SECRET = 0o600;
const PUBLIC = 0o644;

export function writeBrokerFiles(o: BrokerFileOptions): BrokerFiles {
  const dir = o.dir;
  const seen = o.brokerDir ?? dir;
  const ports = { ...BROKER_PORTS, ...o.ports };
  rmSync(dir, { recursive: true, force: true }); // everything in it is derived: rewrite it whole
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const files: Array<[string, number]> = [];
  const put = (name: string, text: string | Buffer, mode: number) => {
    writeFileSync(join(dir, name), text, { mode });
    files.push([name, mode]);
  };

  if (o.boards.length > 0) put('boards.passwd', hashed(join(dir, 'boards.passwd'), o.boards), SECRET);
  put('operators.passwd', hashed(join(dir, 'operators.passwd'), o.operators), SECRET);
  const acl = mosquittoAcl({ baseTopic: o.baseTopic, haPrefix: o.haPrefix, operators: o.operators.map(([u]) => u) });
  put('mosquitto.acl', acl, SECRET);
  if (o.tls) {
    put('ca.pem', readFileSync(o.tls.ca), PUBLIC);
    if (o.tls.serverCert && o.tls.serverKey) {
      put('server.pem', readFileSync(o.tls.serverCert), PUBLIC);
      copyFileSync(o.tls.serverKey, join(dir, 'server.key'));
      files.push(['server.key', SECRET]);
    }
  }
  const serverTls = o.tls?.serverCert !== undefined;
  const at = (name: string) => join(seen, name);
  const lines = [
    '# faceedge fleet broker, written by `faceedge fleet credentials`. Debian / Raspberry Pi OS:',
    `#   ln -s ${at('mosquitto.conf')} /etc/mosquitto/conf.d/faceedge.conf && systemctl restart mosquitto`,
    '# Mosquitto reads the files below after dropping to its user: they must stay owned by it.',
    'per_listener_settings true',
  ];
  const boardListener = (port: number) => [
    `listener ${port}`,
    'allow_anonymous false',
    `acl_file ${at('mosquitto.acl')}`,
    "# a board's client id is its user name: no account can take another board's session",
    'use_username_as_clientid true',
  ];
  if (o.boards.length > 0)
    lines.push('', '# boards with a password', ...boardListener(ports.boards), `password_file ${at('boards.passwd')}`);
  if (o.tls) {
    lines.push(
      '',
      '# boards with a client certificate from the site CA: its CN is the user name',
      ...boardListener(ports.boardsTls),
    );
    lines.push(`cafile ${at('ca.pem')}`, 'require_certificate true', 'use_identity_as_username true');
    if (serverTls) lines.push(`certfile ${at('server.pem')}`, `keyfile ${at('server.key')}`);
    else
      lines.push("# certfile / keyfile: the broker's own certificate (rerun with --server-name <host> to issue one)");
  }
  lines.push(
    '',
    '# operators (faceedge fleet, event consumers): their own accounts only, client ids of their choosing',
    `listener ${serverTls ? ports.operatorsTls : ports.operators}`,
    'allow_anonymous false',
    `password_file ${at('operators.passwd')}`,
    `acl_file ${at('mosquitto.acl')}`,
  );
  if (serverTls) lines.push(`certfile ${at('server.pem')}`, `keyfile ${at('server.key')}`);
  else lines.push('# a password in clear text: on anything but a lab network, rerun with --certs --server-name <host>');
  put('mosquitto.conf', lines.join('\n') + '\n', PUBLIC);

  for (const [name, mode] of files) chmodSync(join(dir, name), mode); // whatever the umask did
  chmodSync(dir, 0o750);
  const owner = handOver(
    dir,
    files.map(([name]) => name),
    o.brokerUser ?? 'mosquitto',
  );
  return { files: files.map(([name]) => name), owner };
}

/** `user:password` lines hashed in place by mosquitto_passwd (one process for any number of accounts). */
function hashed(path: string, accounts: readonly (readonly [string, string])[]): Buffer {
  writeFileSync(path, accounts.map(([u, p]) => `${u}:${p}`).join('\n') + '\n', { mode: SECRET });
  try {
    execFileSync('mosquitto_passwd', ['-U', path], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(path);
  } catch (err) {
    rmSync(path, { force: true }); // never leave the plain-text version behind
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new FaceedgeError(
      'USAGE',
      `mosquitto_passwd ${missing ? 'is not installed' : `failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim()}`}`,
      { hint: 'install the mosquitto package (it ships mosquitto_passwd)', cause: err },
    );
  }
}

/** Gives the folder and its files to `user` when this process may (root, and the user exists here). */
function handOver(dir: string, names: readonly string[], user: string): string | null {
  if (process.getuid?.() !== 0) return null;
  const ids = userIds(user);
  if (!ids) return null;
  for (const path of [dir, ...names.map((n) => join(dir, n))]) chownSync(path, ids.uid, ids.gid);
  return user;
}

function userIds(user: string): { uid: number; gid: number } | null {
  const id = (flag: string) => {
    try {
      return Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      return null; // no such user on this machine (a workstation): the operator hands the folder over on the broker
    }
  };
  const [uid, gid] = [id('-u'), id('-g')];
  return uid === null || gid === null ? null : { uid, gid };
}
