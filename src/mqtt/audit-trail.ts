/**
 * The audit trail: every request that changes the board, accepted or refused, goes through `record`, which
 * writes one log line (component `audit`, level info) and publishes the same record on `<base>/<dev>/audit`
 * (QoS 1, not retained). The log line is always written; the message only while the broker is connected.
 *
 * Record (README "MQTT topics"):
 *
 *   { ts, who: { client_id, username } | null, via, action, target, outcome, detail }
 *
 * `who` is what the embedded broker saw (src/mqtt/request-origins.ts); with an external broker it is null and
 * `via` says that the broker's ACL admitted the publisher. `detail` is what the caller chose to show of the
 * request: never secrets, embeddings or face images (a caller that takes them says only what was done).
 *
 * Wired for: bridge requests other than read-only ones (`options`, `model/reload`, `model/rollback`: the bridge
 * dispatcher), GPIO `<out>/set` (the GPIO part), a model push's outcome (src/daemon/model-updates.ts, with its
 * `begin`'s origin). A new kind of request — the coming gallery changes — calls `audit.record(origin, { action,
 * target, outcome, detail })`, with the origin that `MqttOutput` hands to its subscription handlers.
 */
import type { Logger } from 'pino';
import type { RequestOrigin, RequestPublisher } from './request-origins.js';

/** `accepted`: carried out. `refused`: not carried out (invalid, not allowed). `failed`: tried, and failed. */
export type AuditOutcome = 'accepted' | 'refused' | 'failed';

/** What happened, as the caller knows it. */
export interface AuditEntry {
  /** What was asked: `bridge/options`, `gpio/set`, `model/reload`… */
  readonly action: string;
  /** What it was asked of: an output's name, a model file, the thresholds. */
  readonly target: string;
  readonly outcome: AuditOutcome;
  /** What may be shown of the request and its result; never secrets or biometric data. Default `{}`. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** One record as logged and published. */
export interface AuditRecord {
  /** When it was recorded: Unix seconds. */
  readonly ts: number;
  readonly who: RequestPublisher | null;
  readonly via: string;
  readonly action: string;
  readonly target: string;
  readonly outcome: AuditOutcome;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** Longest `detail` kept, in characters of JSON: 2048. A longer one is replaced by a note saying so. */
export const MAX_AUDIT_DETAIL_CHARS = 2048;

export interface AuditTrailOptions {
  /** The `audit` component's logger. */
  readonly log: Logger;
  /** `MqttTopics.audit`. */
  readonly topic: string;
  /** Publishes one message (QoS 1, not retained); rejects while the broker is not connected. */
  readonly publish: (topic: string, payload: string) => Promise<void>;
}

export class AuditTrail {
  readonly #o: AuditTrailOptions;

  constructor(options: AuditTrailOptions) {
    this.#o = options;
  }

  /** Logs and publishes one record; returns it. Never throws. */
  record(origin: RequestOrigin, entry: AuditEntry): AuditRecord {
    const record: AuditRecord = {
      ts: Date.now() / 1000,
      who: origin.who,
      via: origin.via,
      action: entry.action,
      target: entry.target,
      outcome: entry.outcome,
      detail: boundedDetail(entry.detail ?? {}),
    };
    const { log, topic, publish } = this.#o;
    log.info({ ...record }, `${record.action} ${record.target}: ${record.outcome}`);
    publish(topic, JSON.stringify(record)).catch((err: Error) =>
      log.warn({ action: record.action, err: err.message }, 'audit record not published (it is in this log)'),
    );
    return record;
  }
}

function boundedDetail(detail: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  let text: string;
  try {
    text = JSON.stringify(detail);
  } catch {
    return { omitted: 'detail is not JSON' };
  }
  return text.length <= MAX_AUDIT_DETAIL_CHARS
    ? (JSON.parse(text) as Record<string, unknown>)
    : { omitted: `detail of ${text.length} characters (more than ${MAX_AUDIT_DETAIL_CHARS})` };
}
