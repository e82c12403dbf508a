/** The broker flags every `faceedge fleet` command that talks to the broker shares. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import type { FleetConnectionOptions } from '../../fleet/fleet-connection.js';
import { DEFAULT_BASE_TOPIC } from '../../mqtt/mqtt-topics.js';

/** Flags every fleet command that talks to the broker shares. */
export interface BrokerFlags {
  mqtt: string;
  baseTopic: string;
  username?: string;
  passwordFile?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** Adds --mqtt, --base-topic and the operator credential flags. */
export function withBrokerOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--mqtt <url>', "the fleet's broker (mqtt://, mqtts://)")
    .option('--base-topic <topic>', "the boards' mqtt.base_topic", DEFAULT_BASE_TOPIC)
    .option('--username <name>', 'operator account on the broker')
    .option('--password-file <file>', 'file holding the operator password (kept off the command line)')
    .option('--ca <pem>', 'CA certificate of the broker (mqtts://)')
    .option('--cert <pem>', 'operator client certificate (mutual TLS)')
    .option('--key <pem>', 'operator client key');
}

export function connectionOptions(f: BrokerFlags): FleetConnectionOptions {
  let password: string | undefined;
  if (f.passwordFile) {
    try {
      password = readFileSync(f.passwordFile, 'utf8').trim();
    } catch (cause) {
      throw new FaceedgeError('USAGE', `cannot read --password-file ${f.passwordFile}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }
  return {
    url: f.mqtt,
    baseTopic: f.baseTopic,
    auth: { username: f.username, password, ca: f.ca, cert: f.cert, key: f.key },
  };
}
