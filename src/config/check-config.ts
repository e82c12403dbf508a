/** `faceedge config check [file]`: validate without starting anything. The CLI prints the result. */
import { accessSync, constants, statSync } from 'node:fs';
import { isFaceedgeError } from '../errors.js';
import { ConfigInvalidError, formatConfigIssue, type ConfigIssue } from './config-issues.js';
import type { FaceedgeConfig } from './config-schema.js';
import { loadConfig } from './load-config.js';
import { ruleWarnings } from '../rules/rule-references.js';

/**
 * Files that `faceedge run` reads at start and refuses to start without: the MQTT TLS material. (Camera
 * sources and the model store are checked by the running daemon, which keeps going without them.)
 */
function fileIssues(config: FaceedgeConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = config.mqtt.tls?.[key];
    if (file === undefined) continue;
    try {
      if (!statSync(file).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
      accessSync(file, constants.R_OK);
    } catch (err) {
      issues.push({
        path: `mqtt.tls.${key}`,
        message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      });
    }
  }
  return issues;
}

export interface ConfigCheckResult {
  readonly ok: boolean;
  /** One `path: message` line per problem; empty when ok. */
  readonly errors: readonly string[];
  readonly issues: readonly ConfigIssue[];
  /** Valid settings that weaken a lock (`rules.0.when.require_live: …`), printed loudly; empty when none. */
  readonly warnings: readonly string[];
  /** The loaded configuration when ok (redact it before printing). */
  readonly config?: FaceedgeConfig;
}

/**
 * Loads `path` (absent = defaults) with the `FACEEDGE_*` overrides of `env` and reports every problem.
 * Never throws for a bad configuration.
 */
export function checkConfig(
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): ConfigCheckResult {
  try {
    const config = loadConfig({ file: path, env });
    const issues = fileIssues(config);
    const locks = Object.entries(config.gpio.outputs).flatMap(([name, o]) => (o.lock ? [name] : []));
    const warnings = ruleWarnings(config.rules, locks).map((w) =>
      formatConfigIssue({ path: ['rules', ...w.path].join('.'), message: w.message }),
    );
    if (issues.length > 0) return { ok: false, errors: issues.map(formatConfigIssue), issues, warnings };
    return { ok: true, errors: [], issues: [], warnings, config };
  } catch (err) {
    if (err instanceof ConfigInvalidError) {
      return { ok: false, errors: err.issues.map(formatConfigIssue), issues: err.issues, warnings: [] };
    }
    if (isFaceedgeError(err)) {
      const issue = { path: '', message: err.message };
      return { ok: false, errors: [formatConfigIssue(issue)], issues: [issue], warnings: [] };
    }
    throw err;
  }
}
