/**
 * The GPIO part of the MQTT contract as pure helpers: what a `faceedge/<dev>/gpio/<name>/set` command
 * asks for (the topics themselves are built by MqttTopics, with every other topic). The daemon wires
 * them to a {@link GpioBank}; nothing here touches a client or a line.
 */
import { checkRequestSize, FaceedgeError } from '../errors.js';
import type { GpioOutput } from './gpio-types.js';

/** What a `set` payload asks for. */
export type GpioCommand =
  { readonly kind: 'set'; readonly on: boolean } | { readonly kind: 'pulse'; readonly ms: number };

const WORDS: Record<string, boolean> = { on: true, off: false, '1': true, '0': false, true: true, false: false };

function invalid(text: string, why: string): FaceedgeError {
  return new FaceedgeError('REQUEST_INVALID', `gpio command ${JSON.stringify(text.slice(0, 100))}: ${why}`, {
    hint: 'send ON, OFF, or {"state":"ON","pulse_ms":3000}',
  });
}

/** Largest `gpio/<name>/set` payload, bytes: `{"state":"OFF","pulse_ms":3000}` is 32. Checked before parsing. */
export const MAX_GPIO_COMMAND_BYTES = 1024;

/**
 * Parses a `set` payload: `ON`/`OFF` (any case; also 1/0, true/false), or JSON
 * `{"state":"ON"|"OFF"}`, `{"state":"ON","pulse_ms":3000}` or `{"pulse_ms":3000}` (on for that long,
 * then off).
 * @throws FaceedgeError REQUEST_INVALID for anything else.
 */
export function parseGpioCommand(payload: string | Uint8Array): GpioCommand {
  checkRequestSize(
    'GPIO command',
    typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length,
    MAX_GPIO_COMMAND_BYTES,
  );
  const text = (typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')).trim();
  const word = WORDS[text.toLowerCase()];
  if (word !== undefined) return { kind: 'set', on: word };
  if (!text.startsWith('{')) throw invalid(text, 'not ON, OFF or a JSON object');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid(text, 'malformed JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(text, 'not a JSON object');
  const { state, pulse_ms: pulseMs, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw invalid(text, `unknown key ${unknown[0]}`);
  let on: boolean | undefined;
  if (state !== undefined) {
    on = typeof state === 'string' ? WORDS[state.toLowerCase()] : typeof state === 'boolean' ? state : undefined;
    if (on === undefined) throw invalid(text, 'state must be ON or OFF');
  }
  if (pulseMs === undefined) {
    if (on === undefined) throw invalid(text, 'needs state or pulse_ms');
    return { kind: 'set', on };
  }
  if (typeof pulseMs !== 'number' || !Number.isInteger(pulseMs) || pulseMs <= 0)
    throw invalid(text, 'pulse_ms must be a positive whole number of ms');
  if (on === false)
    throw invalid(text, 'a pulse turns the output ON for pulse_ms; state OFF with pulse_ms is ambiguous');
  return { kind: 'pulse', ms: pulseMs };
}

/** Carries out a parsed command on an output. */
export function applyGpioCommand(output: GpioOutput, command: GpioCommand): Promise<void> {
  return command.kind === 'pulse' ? output.pulse(command.ms) : output.set(command.on);
}
