/**
 * `faceedge fleet credentials <devices…> --out <dir>`: one broker account per board and one for the
 * operator, as files an operator copies into place:
 *
 *   <out>/passwords/<id>.txt      the board's password (mqtt.password on the board; mode 0600)
 *   <out>/mosquitto.passwd        Mosquitto password_file of every account (hashed by mosquitto_passwd)
 *   <out>/mosquitto.acl           the ACL (broker-acl.ts)
 *   <out>/ca.pem, ca.key          the site CA (with --certs; reused when present)
 *   <out>/certs/<id>.pem, .key    client certificates, CN = device id (with --certs)
 *   <out>/certs/server.pem, .key  the broker's certificate (with --certs --server-name)
 *   <out>/mosquitto.conf          a listener block using all of the above
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
import { mosquittoAcl } from './broker-acl.js';

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
}

export interface FleetCredentials {
  /** Every file written, relative to `out`. */
  readonly files: string[];
  /** Devices that got a new password or certificate (the others kept theirs). */
  readonly created: string[];
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
  mkdirSync(join(out, 'passwords'), { recursive: true, mode: 0o700 });
  const files: string[] = [];
  const created: string[] = [];
  const all = [...accounts, operator];

  if (o.passwords ?? true) {
    const lines: string[] = [];
    for (const user of all) {
      const file = join(out, 'passwords', `${user}.txt`);
      let password: string;
      if (existsSync(file)) password = readFileSync(file, 'utf8').trim();
      else {
        password = randomBytes(18).toString('base64url');
        writeFileSync(file, `${password}\n`, { mode: 0o600 });
        if (user !== operator) created.push(user);
      }
      files.push(`passwords/${user}.txt`);
      lines.push(`${user}:${password}`);
    }
    // Plain text first, hashed in place by mosquitto_passwd -U: one process for any number of boards.
    const passwd = join(out, 'mosquitto.passwd');
    writeFileSync(passwd, lines.join('\n') + '\n', { mode: 0o600 });
    try {
      run('mosquitto_passwd', ['-U', passwd], out);
    } catch (err) {
      rmSync(passwd, { force: true }); // never leave the plain-text version behind
      throw err;
    }
    files.push('mosquitto.passwd');
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
    for (const user of all)
      if (issue(user, user, 'extendedKeyUsage=clientAuth\n') && user !== operator && !created.includes(user))
        created.push(user);
    if (o.serverName) {
      const san = isIP(o.serverName) ? `IP:${o.serverName}` : `DNS:${o.serverName}`;
      issue('server', o.serverName, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    }
  }

  writeFileSync(
    join(out, 'mosquitto.acl'),
    mosquittoAcl({ baseTopic: o.baseTopic, haPrefix: o.haPrefix, operators: [operator] }),
  );
  files.push('mosquitto.acl');
  writeFileSync(join(out, 'mosquitto.conf'), mosquittoListenerConfig(out, o));
  files.push('mosquitto.conf');
  return { files, created };
}

/** A Mosquitto config fragment using the written files (include it, or copy its lines). */
function mosquittoListenerConfig(out: string, o: FleetCredentialOptions): string {
  const lines = [
    '# faceedge fleet broker settings, written by `faceedge fleet credentials`.',
    'per_listener_settings false',
    'allow_anonymous false',
    `acl_file ${join(out, 'mosquitto.acl')}`,
  ];
  if (o.passwords ?? true)
    lines.push(
      `password_file ${join(out, 'mosquitto.passwd')}`,
      '',
      '# boards and operator with a password (use TLS on anything but a lab network)',
      'listener 1883',
    );
  if (o.certs) {
    lines.push(
      '',
      '# boards and operator with a client certificate: its CN is the user name the ACL sees',
      'listener 8883',
      `cafile ${join(out, 'ca.pem')}`,
    );
    if (o.serverName)
      lines.push(`certfile ${join(out, 'certs/server.pem')}`, `keyfile ${join(out, 'certs/server.key')}`);
    else
      lines.push("# certfile / keyfile: the broker's own certificate (rerun with --server-name <host> to issue one)");
    lines.push('require_certificate true', 'use_identity_as_username true');
  }
  return lines.join('\n') + '\n';
}
