/**
 * Env and CLI-flag overrides on top of the YAML file. `FACEEDGE_MQTT__URL=…` sets `mqtt.url`:
 * the prefix is stripped, a double underscore separates levels (a single one stays part of the key,
 * as in `embedded_broker`), and names are lower-cased. Values stay strings (the schema coerces numbers
 * and booleans), except a value starting with `[` or `{`, read as JSON so lists and maps
 * (`FACEEDGE_CAMERAS='[…]'`) can be given too.
 */

/** One value to set at a path of the config tree. */
export interface ConfigOverride {
  readonly path: readonly string[];
  readonly value: unknown;
  /** Where it came from, for messages (`env FACEEDGE_MQTT__URL`, `flag mqtt.url`). */
  readonly source: string;
}

/** Prefix of the env variables read as overrides. */
export const ENV_PREFIX = 'FACEEDGE_';

/** Env variables with the prefix that are not config keys (the config file path itself). */
export const RESERVED_ENV = new Set(['FACEEDGE_CONFIG']);

/**
 * Prefixes of the project's own tool and test variables (`FACEEDGE_TEST_MODEL`, the stand-in cameras'
 * `FACEEDGE_STANDIN_*`, the GPIO simulator's `FACEEDGE_GPIO_SIM*`, first-boot's `FACEEDGE_FIRSTBOOT_*`).
 * They share the namespace but are never config keys: read as overrides, a shell that exported one for
 * the tests would make every `faceedge run` fail with "test_model: unknown key".
 */
export const RESERVED_ENV_PREFIXES: readonly string[] = [
  'FACEEDGE_TEST_',
  'FACEEDGE_STANDIN_',
  'FACEEDGE_GPIO_SIM',
  'FACEEDGE_FIRSTBOOT_',
];

function isConfigVariable(name: string): boolean {
  return (
    name.startsWith(ENV_PREFIX) && !RESERVED_ENV.has(name) && !RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p))
  );
}

function parseEnvValue(raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      // Not JSON after all: keep the string and let the schema say what is wrong with it.
    }
  }
  return raw;
}

/** The overrides named by `FACEEDGE_*` variables of `env`, in name order so results are reproducible. */
export function envOverrides(env: Readonly<Record<string, string | undefined>>): ConfigOverride[] {
  return Object.keys(env)
    .filter((name) => isConfigVariable(name) && env[name] !== undefined)
    .sort()
    .map((name) => ({
      path: name
        .slice(ENV_PREFIX.length)
        .split('__')
        .map((p) => p.toLowerCase()),
      value: parseEnvValue(env[name] as string),
      source: `env ${name}`,
    }));
}

/**
 * Overrides from CLI flags given as dotted paths (`{ 'mqtt.url': 'mqtt://…', 'log.level': 'debug' }`);
 * `undefined` values (flags not given) are skipped.
 */
export function flagOverrides(flags: Readonly<Record<string, unknown>>): ConfigOverride[] {
  return Object.entries(flags)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ({ path: key.split('.'), value, source: `flag ${key}` }));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Returns a copy of `tree` with each override applied in order (later wins). A numeric path level
 * indexes into an existing list (`CAMERAS__0__SOURCE__FPS`); missing levels become objects.
 */
export function applyOverrides(tree: unknown, overrides: readonly ConfigOverride[]): unknown {
  let root: unknown = structuredClone(tree ?? {});
  for (const { path, value } of overrides) {
    if (path.length === 0 || path.some((p) => p === '')) continue;
    if (!isPlainObject(root)) root = {};
    let node = root as Record<string, unknown> | unknown[];
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!;
      const last = i === path.length - 1;
      const index = Array.isArray(node) && /^\d+$/.test(key) ? Number(key) : key;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[index] = value;
        break;
      }
      const next = container[index];
      if (!isPlainObject(next) && !Array.isArray(next)) container[index] = {};
      node = container[index] as Record<string, unknown> | unknown[];
    }
  }
  return root;
}
