/**
 * `faceedge fleet credentials <devices…> --out <dir>`: one broker account per board and one for the
 * operator, as files an operator copies into place:
 *
 *   <out>/passwords/<id>.txt      each account's password (mqtt.password on the board; mode 0600)
 *   <out>/ca.pem, ca.key          the site CA (with --certs; reused when present; the key stays here)
 *   <out>/certs/<id>.pem, .key    board client certificates, CN = device id (with --certs)
 *   <out>/certs/server.pem, .key  the broker's certificate (with --certs --server-name)
 *   <out>/broker/                 what the broker reads, owned by its user (broker-files.ts)
 *
 * Re-running with more devices keeps existing passwords and certificates: adding boards never
 * invalidates the boards already deployed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { writeBrokerFiles, type BrokerPorts } from './broker-files.js';

export interface FleetCredentialOptions {
  readonly devices: readonly string[];
  readonly out: string;
  /** Operator account name. Default `operator`. */
  readonly operator?: string;
  /** Write passwords. Default true. */
  readonly passwords?: boolean;
  /** Issue client certificates from a site CA. Default false. */
  readonly certs?: boolean;
  /** With `certs`: also issue the broker's server certificate for this host name or IP. */
  readonly serverName?: string;
  /** Certificate lifetime, days. Default 825. */
  readonly days?: number;
  readonly baseTopic?: string;
  readonly haPrefix?: string;
  /** Where the broker will read `<out>/broker/` from (written into its mosquitto.conf). Default `<out>/broker`. */
  readonly brokerDir?: string;
  /** The user the broker drops to; `<out>/broker/` is handed to it when run as root. Default `mosquitto`. */
  readonly brokerUser?: string;
  readonly ports?: Partial<BrokerPorts>;
}

export interface FleetCredentials {
  /** Every file written, relative to `out`. */
  readonly files: string[];
  /** Devices that got a new password or certificate (the others kept theirs). */
  readonly created: string[];
  /** Owner of `<out>/broker/` (the broker's user), or null when this process could not hand it over. */
  readonly brokerOwner: string | null;
}

const ID = /^[A-Za-z0-9_-]+$/;
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function run(cmd: string, args: string[], cwd: string): void {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new FaceedgeError(
      'USAGE',
      `${cmd} ${missing ? 'is not installed' : `failed: ${stderr ?? (err as Error).message}`}`,
      {
        hint:
          cmd === 'mosquitto_passwd' ? 'install the mosquitto package (it ships mosquitto_passwd)' : 'install openssl',
        cause: err,
      },
    );
  }
}

export function writeFleetCredentials(o: FleetCredentialOptions): FleetCredentials {
  const operator = o.operator ?? 'operator';
  const accounts = [...new Set(o.devices)];
  const bad = accounts.filter((d) => !ID.test(d));
  if (bad.length > 0)
    throw new FaceedgeError('USAGE', `not a device id: ${bad.join(', ')}`, {
      hint: 'device ids are letters, digits, "_" and "-" (device.id)',
    });
  if (accounts.length === 0) throw new FaceedgeError('USAGE', 'name at least one device');
  if (accounts.includes(operator))
    throw new FaceedgeError('USAGE', `"${operator}" is the operator account; rename the device or pass --operator`);
  const out = resolve(o.out);
  // The broker's user must be able to reach <out>/broker/: <out> itself is listable, its secrets are not.
  if (!existsSync(out)) mkdirSync(out, { recursive: true, mode: 0o755 });
  mkdirSync(join(out, 'passwords'), { recursive: true, mode: 0o700 });
  const files: string[] = [];
  const created: string[] = [];
  const passwords = new Map<string, string>();
  for (const user of o.passwords === false ? [operator] : [...accounts, operator]) {
    const file = join(out, 'passwords', `${user}.txt`);
    let password: string;
    if (existsSync(file)) password = readFileSync(file, 'utf8').trim();
    else {
      password = randomBytes(18).toString('base64url');
      writeFileSync(file, `${password}\n`, { mode: 0o600 });
      if (user !== operator) created.push(user);
    }
    files.push(`passwords/${user}.txt`);
    passwords.set(user, password);
  }

  if (o.certs) {
    mkdirSync(join(out, 'certs'), { recursive: true, mode: 0o700 });
    const days = String(o.days ?? 825);
    if (!existsSync(join(out, 'ca.pem')) || !existsSync(join(out, 'ca.key'))) {
      run(
        'openssl',
        [
          'req',
          '-x509',
          ...EC,
          '-keyout',
          'ca.key',
          '-out',
          'ca.pem',
          '-days',
          String(Math.max(o.days ?? 825, 3650)),
          '-subj',
          '/CN=faceedge site CA',
        ],
        out,
      );
    }
    files.push('ca.pem', 'ca.key');
    const issue = (name: string, cn: string, ext: string) => {
      const base = join('certs', name);
      files.push(`${base}.pem`, `${base}.key`);
      if (existsSync(join(out, `${base}.pem`))) return false;
      writeFileSync(join(out, `${base}.ext`), ext);
      run(
        'openssl',
        ['req', '-new', ...EC, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`],
        out,
      );
      run(
        'openssl',
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-set_serial',
          `0x${randomBytes(16).toString('hex')}`,
          '-out',
          `${base}.pem`,
          '-days',
          days,
          '-extfile',
          `${base}.ext`,
        ],
        out,
      );
      rmSync(join(out, `${base}.csr`));
      rmSync(join(out, `${base}.ext`));
      return true;
    };
    // Boards only: operators log in on their own listener with a password (broker-files.ts).
    for (const user of accounts)
      if (issue(user, user, 'extendedKeyUsage=clientAuth\n') && !created.includes(user)) created.push(user);
    if (o.serverName) {
      const san = isIP(o.serverName) ? `IP:${o.serverName}` : `DNS:${o.serverName}`;
      issue('server', o.serverName, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    }
  }

  const broker = writeBrokerFiles({
    dir: join(out, 'broker'),
    brokerDir: o.brokerDir,
    boards: o.passwords === false ? [] : accounts.map((d) => [d, passwords.get(d)!] as const),
    operators: [[operator, passwords.get(operator)!]],
    tls: o.certs
      ? {
          ca: join(out, 'ca.pem'),
          ...(o.serverName
            ? { serverCert: join(out, 'certs/server.pem'), serverKey: join(out, 'certs/server.key') }
            : {}),
        }
      : undefined,
    ports: o.ports,
    brokerUser: o.brokerUser,
    baseTopic: o.baseTopic,
    haPrefix: o.haPrefix,
  });
  files.push(...broker.files.map((f) => `broker/${f}`));
  return { files, created, brokerOwner: broker.owner };
}
