/**
 * Structured JSON logs (pino) to stdout, where journald stores them. The composition root creates one
 * logger and hands each component a child tagged with its name; nothing logs through a global.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { secretScrubber } from './redact-url.js';

export type { Logger } from 'pino';

/**
 * Paths whose values are replaced by `[redacted]` wherever a config, options object or error is
 * logged. pino's wildcards match one level, so common nestings are listed explicitly.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  '*.*.password',
  'mqtt.password',
  'config.mqtt.password',
  'key',
  'tls.key',
  '*.tls.key',
  'mqtt.tls.key',
  'config.mqtt.tls.key',
  'token',
  '*.token',
];

export interface LoggerOptions {
  /** Minimum level. Default `info`. */
  readonly level?: LevelWithSilent;
  /** Where lines go. Default stdout (fd 1). Tests pass a stream to capture lines. */
  readonly destination?: DestinationStream;
  /** Fields on every line. Default `{}` (pino adds pid and hostname). */
  readonly base?: Record<string, unknown>;
  /**
   * Secret values (the configured MQTT password, URL passwords: `configSecrets(config)`) removed from
   * every line, whatever field or message carries them. URL credentials are removed in any case.
   */
  readonly secrets?: readonly string[];
}

/**
 * The daemon's root logger. Redaction has two layers: the known secret keys (`REDACT_PATHS`) in logged
 * objects, and a last pass over each written line for URL credentials and the configured secret values,
 * which also catches an error message or a child process's output that echoes them.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const scrub = secretScrubber(options.secrets ?? []);
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      hooks: { streamWrite: scrub },
      ...(options.base ? { base: options.base } : {}),
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A child logger for one component (`{"component":"mqtt",...}`). */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ component, ...bindings });
}

/** A logger that drops everything; for tests and tools that do not log. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
