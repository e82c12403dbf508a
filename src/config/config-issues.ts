/**
 * Configuration problems as plain data: every bad key is reported with its dotted path, all at once,
 * so an operator fixes a config file in one pass instead of one error per restart.
 */
import type { z } from 'zod';
import { FaceedgeError } from '../errors.js';

/** One problem in the configuration. */
export interface ConfigIssue {
  /** Dotted path of the bad key (`mqtt.tls.ca`, `cameras.1.source.path`); `''` for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** `path: message`, or just the message for whole-file problems. */
export function formatConfigIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** Thrown by the loader; `issues` lists every problem found. Code `CONFIG_INVALID`. */
export class ConfigInvalidError extends FaceedgeError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source: string) {
    super('CONFIG_INVALID', `invalid configuration (${source}):\n  ${issues.map(formatConfigIssue).join('\n  ')}`, {
      hint: 'fix the keys listed above; `faceedge config check <file>` validates a file without starting the daemon',
    });
    this.name = 'ConfigInvalidError';
    this.issues = issues;
  }
}

function joinPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

/**
 * Flattens zod issues into ConfigIssues. Unknown keys become one issue per key, with the key's own
 * path, because "mqtt: unrecognized key" does not tell a user which line to fix.
 */
export function configIssuesFromZod(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: joinPath([...issue.path, key]), message: 'unknown key' });
    } else {
      out.push({ path: joinPath(issue.path), message: issue.message });
    }
  }
  return out;
}
