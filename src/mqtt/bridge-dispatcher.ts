/**
 * `bridge/request/<cmd>` → `bridge/response/<cmd>`. The composition root registers one handler per
 * command; the dispatcher turns every outcome (result, thrown error, unknown command, malformed JSON)
 * into a response, so no request can take the daemon down. Every request but those of a read-only command
 * (`health_check`) is audited, accepted or refused (src/mqtt/audit-trail.ts): a new command is audited
 * unless it says it changes nothing.
 *
 * Request body: a JSON object whose optional `transaction` (string or number) is echoed back and whose
 * other keys are the handler's parameters; an empty body means `{}`. Any other JSON value is passed
 * to the handler as is.
 */
import type { Logger } from 'pino';
import { checkRequestSize, isFaceedgeError } from '../errors.js';
import type { AuditEntry, AuditTrail } from './audit-trail.js';
import type { RequestOrigin } from './request-origins.js';

/** Parameters in, response `data` out (plain JSON). May throw; FaceedgeError codes reach the caller. */
export type BridgeHandler = (params: unknown) => unknown | Promise<unknown>;

/** A command with what the audit needs to know about it. */
export interface BridgeCommand {
  readonly run: BridgeHandler;
  /** Changes nothing on the board (`health_check`): not audited. Default false: every request is audited. */
  readonly readOnly?: boolean;
  /**
   * What the audit record of an accepted request shows: what was changed (`target`) and how (`detail`), never
   * secrets or biometric data. Default: the command as target, no detail.
   */
  readonly describe?: (params: unknown, result: unknown) => Pick<AuditEntry, 'target' | 'detail'>;
  /**
   * Largest request body this command takes, bytes; a larger one is refused (`REQUEST_INVALID`) before it is
   * parsed. Default {@link DEFAULT_BRIDGE_REQUEST_BYTES}.
   */
  readonly maxBodyBytes?: number;
}

/**
 * Largest body of a bridge request whose command states no bound of its own (options, model reload…: a few
 * hundred bytes in practice), and of a request for an unknown command, bytes: 64 KiB.
 */
export const DEFAULT_BRIDGE_REQUEST_BYTES = 64 * 1024;
/** Bytes of an oversized body searched for its `transaction`, so that the refusal still reaches its sender. */
const TRANSACTION_SEARCH_BYTES = 4096;

/** A plain handler (audited, with no detail) or a described command. */
export type BridgeCommandSpec = BridgeHandler | BridgeCommand;

/** Where a request came from when its sender is unknown (a caller without a broker: tests, the CLI). */
const UNKNOWN_ORIGIN: RequestOrigin = { who: null, via: 'unknown' };

export interface BridgeResponse {
  readonly status: 'ok' | 'error';
  /** The handler's result; for errors `{ code }` (a FaceedgeError code, or `INTERNAL`). */
  readonly data: unknown;
  readonly error?: string;
  readonly transaction?: string | number;
}

type Transaction = string | number | undefined;

/** Extracts `"transaction": <string|number>` from a body that is not valid JSON, when it can. */
function transactionFromText(text: string): Transaction {
  const m = /"transaction"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?))/.exec(text);
  if (!m) return undefined;
  if (m[1] !== undefined) {
    try {
      return JSON.parse(`"${m[1]}"`) as string;
    } catch {
      return m[1];
    }
  }
  return Number(m[2]);
}

function isTransaction(v: unknown): v is string | number {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

export class BridgeDispatcher {
  readonly #commands = new Map<string, BridgeCommand>();

  readonly #log: Logger;
  readonly #audit: AuditTrail | null;

  /** @param audit where requests that change the board are recorded. Default: nowhere (tests of the dispatch). */
  constructor(log: Logger, audit: AuditTrail | null = null) {
    this.#log = log;
    this.#audit = audit;
  }

  /** Registers (or replaces) the handler of `command` (`health_check`, `options`, `model/reload`…). */
  register(command: string, spec: BridgeCommandSpec): void {
    this.#commands.set(command, typeof spec === 'function' ? { run: spec } : spec);
  }

  /** Commands with a handler, sorted. */
  get commands(): string[] {
    return [...this.#commands.keys()].sort();
  }

  /**
   * Runs the handler of `command` on a raw request body and audits the outcome (unless the command is
   * read-only) as coming from `origin`; never throws.
   */
  async dispatch(
    command: string,
    body: Buffer | string,
    origin: RequestOrigin = UNKNOWN_ORIGIN,
  ): Promise<BridgeResponse> {
    const spec = this.#commands.get(command);
    const { response, described } = await this.#run(spec, command, body);
    if (this.#audit && !spec?.readOnly) this.#audit.record(origin, auditEntry(command, response, described));
    return response;
  }

  /** The response, and for an accepted request what its command says of it for the audit. */
  async #run(
    spec: BridgeCommand | undefined,
    command: string,
    body: Buffer | string,
  ): Promise<{ response: BridgeResponse; described?: Pick<AuditEntry, 'target' | 'detail'> }> {
    const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    try {
      checkRequestSize(`bridge request ${command}`, bytes, spec?.maxBodyBytes ?? DEFAULT_BRIDGE_REQUEST_BYTES);
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      const head =
        typeof body === 'string' ? body.slice(0, TRANSACTION_SEARCH_BYTES) : body.subarray(0, TRANSACTION_SEARCH_BYTES);
      this.#log.warn({ command, bytes }, 'oversized bridge request refused');
      return { response: this.#error(err.code, err.message, transactionFromText(head.toString())) };
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    let params: unknown = {};
    let transaction: Transaction;
    if (text.trim() !== '') {
      try {
        params = JSON.parse(text) as unknown;
      } catch (err) {
        transaction = transactionFromText(text);
        this.#log.warn({ command, err: (err as Error).message }, 'malformed bridge request');
        return {
          response: this.#error(
            'REQUEST_INVALID',
            `malformed JSON in request body: ${(err as Error).message}`,
            transaction,
          ),
        };
      }
    }
    if (typeof params === 'object' && params !== null && !Array.isArray(params) && 'transaction' in params) {
      const { transaction: t, ...rest } = params as Record<string, unknown>;
      if (isTransaction(t)) transaction = t;
      params = rest;
    }
    if (!spec) {
      const known = this.commands.join(', ') || 'none';
      return { response: this.#error('REQUEST_INVALID', `unknown command "${command}"; known: ${known}`, transaction) };
    }
    try {
      const data = await spec.run(params);
      const response: BridgeResponse = {
        status: 'ok',
        data: data ?? {},
        ...(transaction !== undefined ? { transaction } : {}),
      };
      return { response, described: this.#describe(spec, command, params, data) };
    } catch (err) {
      if (isFaceedgeError(err)) {
        this.#log.warn({ command, code: err.code, err: err.message }, 'bridge request failed');
        return { response: this.#error(err.code, err.message, transaction) };
      }
      this.#log.error({ command, err }, 'bridge handler threw');
      return { response: this.#error('INTERNAL', err instanceof Error ? err.message : String(err), transaction) };
    }
  }

  /** What the command says of an accepted request; a describer that throws costs its detail, not the audit. */
  #describe(spec: BridgeCommand, command: string, params: unknown, data: unknown) {
    try {
      return spec.describe?.(params, data);
    } catch (err) {
      this.#log.error({ command, err }, 'audit description of a bridge request threw');
      return undefined;
    }
  }

  #error(code: string, message: string, transaction: Transaction): BridgeResponse {
    return { status: 'error', data: { code }, error: message, ...(transaction !== undefined ? { transaction } : {}) };
  }
}

/**
 * The audit entry of a bridge request: `accepted` when the handler returned, `refused` for a typed error (an
 * invalid or unknown request, a model that failed its checks), `failed` for an unexpected one.
 */
function auditEntry(
  command: string,
  response: BridgeResponse,
  described: Pick<AuditEntry, 'target' | 'detail'> | undefined,
): AuditEntry {
  const action = `bridge/${command}`;
  if (response.status === 'ok')
    return { action, target: described?.target ?? command, outcome: 'accepted', detail: described?.detail };
  const code = (response.data as { code: string }).code;
  return {
    action,
    target: command,
    outcome: code === 'INTERNAL' ? 'failed' : 'refused',
    detail: { code, error: response.error },
  };
}
