/**
 * `bridge/request/<cmd>` → `bridge/response/<cmd>`. The composition root registers one handler per
 * command; the dispatcher turns every outcome (result, thrown error, unknown command, malformed JSON)
 * into a response, so no request can take the daemon down.
 *
 * Request body: a JSON object whose optional `transaction` (string or number) is echoed back and whose
 * other keys are the handler's parameters; an empty body means `{}`. Any other JSON value is passed
 * to the handler as is.
 */
import type { Logger } from 'pino';
import { isFaceedgeError } from '../errors.js';

/** Parameters in, response `data` out (plain JSON). May throw; FaceedgeError codes reach the caller. */
export type BridgeHandler = (params: unknown) => unknown | Promise<unknown>;

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
  readonly #handlers = new Map<string, BridgeHandler>();

  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Registers (or replaces) the handler of `command` (`health_check`, `options`, `model/reload`…). */
  register(command: string, handler: BridgeHandler): void {
    this.#handlers.set(command, handler);
  }

  /** Commands with a handler, sorted. */
  get commands(): string[] {
    return [...this.#handlers.keys()].sort();
  }

  /** Runs the handler of `command` on a raw request body; never throws. */
  async dispatch(command: string, body: Buffer | string): Promise<BridgeResponse> {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    let params: unknown = {};
    let transaction: Transaction;
    if (text.trim() !== '') {
      try {
        params = JSON.parse(text) as unknown;
      } catch (err) {
        transaction = transactionFromText(text);
        this.#log.warn({ command, err: (err as Error).message }, 'malformed bridge request');
        return this.#error('REQUEST_INVALID', `malformed JSON in request body: ${(err as Error).message}`, transaction);
      }
    }
    if (typeof params === 'object' && params !== null && !Array.isArray(params) && 'transaction' in params) {
      const { transaction: t, ...rest } = params as Record<string, unknown>;
      if (isTransaction(t)) transaction = t;
      params = rest;
    }
    const handler = this.#handlers.get(command);
    if (!handler) {
      return this.#error(
        'REQUEST_INVALID',
        `unknown command "${command}"; known: ${this.commands.join(', ') || 'none'}`,
        transaction,
      );
    }
    try {
      const data = await handler(params);
      return { status: 'ok', data: data ?? {}, ...(transaction !== undefined ? { transaction } : {}) };
    } catch (err) {
      if (isFaceedgeError(err)) {
        this.#log.warn({ command, code: err.code, err: err.message }, 'bridge request failed');
        return this.#error(err.code, err.message, transaction);
      }
      this.#log.error({ command, err }, 'bridge handler threw');
      return this.#error('INTERNAL', err instanceof Error ? err.message : String(err), transaction);
    }
  }

  #error(code: string, message: string, transaction: Transaction): BridgeResponse {
    return { status: 'error', data: { code }, error: message, ...(transaction !== undefined ? { transaction } : {}) };
  }
}
