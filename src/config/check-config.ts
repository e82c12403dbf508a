/** `faceedge config check [file]`: validate without starting anything. The CLI prints the result. */
import { isFaceedgeError } from '../errors.js';
import { ConfigInvalidError, formatConfigIssue, type ConfigIssue } from './config-issues.js';
import type { FaceedgeConfig } from './config-schema.js';
import { loadConfig } from './load-config.js';

export interface ConfigCheckResult {
  readonly ok: boolean;
  /** One `path: message` line per problem; empty when ok. */
  readonly errors: readonly string[];
  readonly issues: readonly ConfigIssue[];
  /** The loaded configuration when ok (redact it before printing). */
  readonly config?: FaceedgeConfig;
}

/**
 * Loads `path` (absent = defaults) with the `FACEEDGE_*` overrides of `env` and reports every problem.
 * Never throws for a bad configuration.
 */
export function checkConfig(path: string | undefined, env: Readonly<Record<string, string | undefined>>): ConfigCheckResult {
  try {
    const config = loadConfig({ file: path, env });
    return { ok: true, errors: [], issues: [], config };
  } catch (err) {
    if (err instanceof ConfigInvalidError) {
      return { ok: false, errors: err.issues.map(formatConfigIssue), issues: err.issues };
    }
    if (isFaceedgeError(err)) {
      const issue = { path: '', message: err.message };
      return { ok: false, errors: [formatConfigIssue(issue)], issues: [issue] };
    }
    throw err;
  }
}
