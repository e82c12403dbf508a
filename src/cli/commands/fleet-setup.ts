/** `faceedge fleet credentials` and `faceedge fleet bridge-config`: files for the fleet's brokers. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import { mosquittoBridgeConfig } from '../../fleet/bridge-config.js';
import { BROKER_PORTS } from '../../fleet/broker-files.js';
import { writeFleetCredentials } from '../../fleet/fleet-credentials.js';
import { DEFAULT_BASE_TOPIC, HA_DISCOVERY_PREFIX } from '../../mqtt/mqtt-topics.js';

export function registerFleetSetupCommands(fleet: Command): void {
  fleet
    .command('credentials <devices...>')
    .description(
      'per-board broker accounts (Mosquitto password_file and/or client certificates from a site CA) and the ACL that confines each board to its own topics',
    )
    .requiredOption('--out <dir>', 'folder for the files (existing passwords and certificates there are kept)')
    .option('--operator <name>', 'operator account (may publish requests and pushes to every board)', 'operator')
    .option(
      '--certs',
      'also issue client certificates (CN = device id) from the site CA in <dir> (created when absent)',
    )
    .option('--no-passwords', 'certificates only')
    .option('--server-name <host>', "with --certs: also issue the broker's certificate for this host name or IP")
    .option('--days <n>', 'certificate lifetime in days', '825')
    .option('--base-topic <topic>', "the boards' mqtt.base_topic", DEFAULT_BASE_TOPIC)
    .option('--ha-prefix <prefix>', 'Home Assistant discovery prefix', HA_DISCOVERY_PREFIX)
    .option(
      '--broker-dir <dir>',
      'where the broker will read <out>/broker/ from (the paths in its mosquitto.conf); default <out>/broker',
    )
    .option(
      '--broker-user <user>',
      'the user Mosquitto drops to; <out>/broker/ is handed to it when run as root',
      'mosquitto',
    )
    .option('--port <n>', 'listener of boards with a password', String(BROKER_PORTS.boards))
    .option('--tls-port <n>', 'listener of boards with a client certificate', String(BROKER_PORTS.boardsTls))
    .option(
      '--operator-port <n>',
      `listener of the operator accounts (default ${BROKER_PORTS.operators}, ${BROKER_PORTS.operatorsTls} with --server-name)`,
    )
    .action(
      (
        devices: string[],
        f: {
          out: string;
          operator: string;
          certs?: boolean;
          passwords: boolean;
          serverName?: string;
          days: string;
          baseTopic: string;
          haPrefix: string;
          brokerDir?: string;
          brokerUser: string;
          port: string;
          tlsPort: string;
          operatorPort?: string;
        },
      ) => {
        const days = Number(f.days);
        const port = (flag: string, v: string) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1 || n > 65535)
            throw new FaceedgeError('USAGE', `${flag} must be a port number`);
          return n;
        };
        const operatorPort = f.operatorPort === undefined ? undefined : port('--operator-port', f.operatorPort);
        if (!Number.isInteger(days) || days < 1) throw new FaceedgeError('USAGE', '--days must be a whole number ≥ 1');
        if (!f.passwords && !f.certs) throw new FaceedgeError('USAGE', '--no-passwords needs --certs');
        const r = writeFleetCredentials({
          devices,
          out: f.out,
          operator: f.operator,
          passwords: f.passwords,
          certs: f.certs,
          serverName: f.serverName,
          days,
          baseTopic: f.baseTopic,
          haPrefix: f.haPrefix,
          brokerDir: f.brokerDir,
          brokerUser: f.brokerUser,
          ports: {
            boards: port('--port', f.port),
            boardsTls: port('--tls-port', f.tlsPort),
            ...(operatorPort === undefined ? {} : { operators: operatorPort, operatorsTls: operatorPort }),
          },
        });
        console.log(
          `${f.out}: ${r.files.length} files for ${devices.length} boards and "${f.operator}" (${r.created.length} new: ${r.created.join(', ') || 'none'})`,
        );
        console.log(
          `each board: mqtt.username = its device id, mqtt.password = passwords/<id>.txt${f.certs ? ' (or mqtt.tls.cert/key = certs/<id>.pem/.key, ca = ca.pem)' : ''}; operator: --username ${f.operator} --password-file passwords/${f.operator}.txt on the operator listener`,
        );
        console.log(
          r.brokerOwner
            ? `broker: ${f.out}/broker/ belongs to ${r.brokerOwner}; link its mosquitto.conf into /etc/mosquitto/conf.d/ and restart mosquitto`
            : `broker: hand ${f.out}/broker/ to the broker's user where it runs (sudo chown -R ${f.brokerUser}: <dir>), then link its mosquitto.conf into /etc/mosquitto/conf.d/`,
        );
      },
    );

  fleet
    .command('bridge-config')
    .description(
      'the Mosquitto bridge block that connects a site broker (the boards) to the central broker (operator, consumers)',
    )
    .requiredOption('--site <name>', 'site name (bridge connection faceedge-<name>)')
    .requiredOption('--central <host:port>', 'the central broker')
    .option('--out <file>', 'write here instead of stdout')
    .option('--username <name>', "the bridge's account on the central broker")
    .option('--password-file <file>', 'its password')
    .option('--cafile <pem>', 'CA of the central broker (TLS)')
    .option('--certfile <pem>', 'client certificate of the bridge (mutual TLS)')
    .option('--keyfile <pem>', 'its key')
    .option('--base-topic <topic>', "the boards' mqtt.base_topic", DEFAULT_BASE_TOPIC)
    .option('--ha-prefix <prefix>', 'Home Assistant discovery prefix', HA_DISCOVERY_PREFIX)
    .option('--restart-timeout <s>', 'first and largest reconnect wait of the bridge, seconds', '2,30')
    .action(
      (f: {
        site: string;
        central: string;
        out?: string;
        username?: string;
        passwordFile?: string;
        cafile?: string;
        certfile?: string;
        keyfile?: string;
        baseTopic: string;
        haPrefix: string;
        restartTimeout: string;
      }) => {
        if (!/^[A-Za-z0-9_-]+$/.test(f.site))
          throw new FaceedgeError('USAGE', '--site must be letters, digits, "_" or "-"');
        if (!/^[^\s:]+:\d+$/.test(f.central)) throw new FaceedgeError('USAGE', '--central must be host:port');
        const [first, max] = f.restartTimeout.split(',').map(Number);
        if (!(first >= 1) || !(max >= first))
          throw new FaceedgeError('USAGE', '--restart-timeout must be "<first>,<max>" seconds, first ≥ 1');
        const password = f.passwordFile ? readFileSync(f.passwordFile, 'utf8').trim() : undefined;
        const text = mosquittoBridgeConfig({
          site: f.site,
          central: f.central,
          baseTopic: f.baseTopic,
          haPrefix: f.haPrefix,
          username: f.username,
          password,
          cafile: f.cafile,
          certfile: f.certfile,
          keyfile: f.keyfile,
          restartTimeoutS: [first, max],
        });
        if (f.out) writeFileSync(f.out, text, { mode: password ? 0o600 : 0o644 });
        else process.stdout.write(text);
      },
    );
}
