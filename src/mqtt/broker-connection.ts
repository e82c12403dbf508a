/**
 * The state of the daemon's connection to its broker, as the log, `/healthz` and the reconnect timing
 * see it. A broker that refuses the login (wrong `mqtt.username`/`mqtt.password`, an ACL that does not
 * admit the client) is retried like a lost connection, since the broker's password file can be fixed
 * without touching the board, but with a capped exponential backoff so that a board with a wrong
 * password does not knock on the broker every `reconnect_period_ms` forever; and it is reported as a
 * problem that makes the daemon not ready, unlike an unreachable broker (events wait in the outbox).
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';

/** Why the daemon is not connected, for `/healthz` and `health_check`. */
export interface BrokerProblem {
  /**
   * `login_refused`: CONNACK "bad user name or password" / "not authorized" (a configuration problem);
   * `refused`: any other CONNACK refusal (banned, server busy…); `unreachable`: no answer, TLS or
   * network error.
   */
  readonly kind: 'login_refused' | 'refused' | 'unreachable';
  /** The broker's or the network's words (`Connection refused: Not authorized`). */
  readonly message: string;
  /** What to check, naming the config keys. */
  readonly hint?: string;
}

/** MQTT 3.1.1 return codes 4, 5 and MQTT 5 reason codes 134, 135: the credentials were refused. */
const LOGIN_REFUSED_CODES = new Set([4, 5, 134, 135]);

/**
 * MQTT 3.1.1 return code 1 ("unacceptable protocol version", what a 3.1.1-only broker answers an MQTT 5 CONNECT)
 * and MQTT 5 reason code 0x84 ("unsupported protocol version").
 */
const PROTOCOL_REFUSED_CODES = new Set([1, 0x84]);

/** What to change when the broker refuses the MQTT version the client spoke (`protocolVersion`, MQTT.js's). */
function protocolHint(protocolVersion: number | undefined): string {
  return protocolVersion === 5
    ? 'the broker does not speak MQTT 5: set mqtt.protocol_version: 4 (MQTT 3.1.1; the daemon then cannot tell it the largest packet it takes, and still bounds each request before parsing it), or upgrade the broker'
    : 'the broker refused MQTT 3.1.1: set mqtt.protocol_version: 5';
}

/** Longest wait between two refused logins, ms. */
export const MAX_REFUSED_RETRY_MS = 60_000;

export interface BrokerConnectionOptions {
  /** The broker URL with its password already redacted. */
  readonly url: string;
  /** `mqtt.reconnect_period_ms`: the first retry delay, and the delay after every other failure. */
  readonly reconnectPeriodMs: number;
  readonly log: Logger;
  /** Events waiting in the outbox, for the log. */
  readonly queued: () => number;
}

export class BrokerConnection {
  #problem: BrokerProblem | null = null;
  #lastLogged = '';
  #refusals = 0;

  readonly #options: BrokerConnectionOptions;

  constructor(options: BrokerConnectionOptions) {
    this.#options = options;
  }

  /** Why the client is not connected; null while connected or before the first attempt failed. */
  get problem(): BrokerProblem | null {
    return this.#problem;
  }

  /** The last failure's message ('' when none since the last connect). */
  get lastError(): string {
    return this.#problem?.message ?? '';
  }

  /** Listens to `client`'s connection events; call once, before it connects. */
  watch(client: MqttClient): void {
    const { log, url } = this.#options;
    client.on('connect', () => {
      this.#problem = null;
      this.#lastLogged = '';
      this.#refusals = 0;
      client.options.reconnectPeriod = this.#options.reconnectPeriodMs;
    });
    client.on('offline', () => {
      if (this.#problem?.kind !== 'login_refused')
        log.warn({ url, queued: this.#options.queued() }, 'MQTT broker unreachable; events are kept in the outbox');
    });
    client.on('error', (err: Error & { code?: unknown }) => {
      const code = typeof err.code === 'number' ? err.code : null;
      const refused = code !== null && /^Connection refused/.test(err.message);
      const protocolRefused = refused && PROTOCOL_REFUSED_CODES.has(code);
      const problem: BrokerProblem = protocolRefused
        ? { kind: 'refused', message: err.message, hint: protocolHint(client.options.protocolVersion) }
        : refused && LOGIN_REFUSED_CODES.has(code)
          ? {
              kind: 'login_refused',
              message: err.message,
              hint: 'the broker refused mqtt.username/mqtt.password (or its ACL does not admit this client): fix them here or on the broker',
            }
          : refused
            ? { kind: 'refused', message: err.message, hint: 'the broker refused the connection: see its log' }
            : { kind: 'unreachable', message: err.message };
      this.#problem = problem;
      if (refused) {
        // MQTT.js retries after client.options.reconnectPeriod, read at each retry.
        this.#refusals += 1;
        client.options.reconnectPeriod = Math.min(
          MAX_REFUSED_RETRY_MS,
          this.#options.reconnectPeriodMs * 2 ** (this.#refusals - 1),
        );
      }
      // MQTT.js retries every reconnect period; log each distinct failure once, not every retry.
      if (err.message === this.#lastLogged) return;
      this.#lastLogged = err.message;
      if (protocolRefused) {
        log.error(
          { url, code, err: err.message, hint: problem.hint, protocol_version: client.options.protocolVersion },
          'MQTT broker refused the protocol version: change mqtt.protocol_version; retrying with backoff',
        );
      } else if (problem.kind === 'login_refused') {
        log.error(
          { url, code, err: err.message, hint: problem.hint, retry_max_ms: MAX_REFUSED_RETRY_MS },
          'MQTT broker refused the login: check mqtt.username and mqtt.password; retrying with backoff',
        );
      } else {
        log.error(
          { url, code: code ?? undefined, err: err.message, ...(problem.hint ? { hint: problem.hint } : {}) },
          'MQTT connection error',
        );
      }
    });
  }
}
