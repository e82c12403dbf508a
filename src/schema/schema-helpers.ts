/**
 * Building blocks shared by the configuration schemas. Numbers and booleans also accept their string
 * spelling (`"30"`, `"true"`) because env variables and CLI flags only carry strings; the YAML file
 * gives real numbers anyway.
 */
import { z } from 'zod';

/** `"30"` → 30 for env/flag strings; anything else passes through for the number check to judge. */
export function coerceNumber(value: unknown): unknown {
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return value;
}

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  on: true,
  off: false,
  '1': true,
  '0': false,
};

export function coerceBoolean(value: unknown): unknown {
  if (typeof value === 'string' && value.toLowerCase() in BOOLEAN_WORDS) return BOOLEAN_WORDS[value.toLowerCase()];
  return value;
}

/** Cross-field checks run even when a sibling key is invalid, so they are reported in the same pass. */
export const isObjectPayload = (payload: { value: unknown }): boolean =>
  typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value);

export const num = (schema: z.ZodNumber) => z.preprocess(coerceNumber, schema);
export const bool = () => z.preprocess(coerceBoolean, z.boolean());

/** Topic levels separated by "/", without wildcards, spaces or empty levels. */
export const topicPath = (what: string) =>
  z
    .string()
    .regex(
      /^[^/#+\s]+(\/[^/#+\s]+)*$/,
      `${what} must be topic levels separated by "/", without "+", "#", spaces or empty levels`,
    );
