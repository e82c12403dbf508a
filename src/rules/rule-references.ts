/**
 * Cross-section checks of the `rules:` config: every output, input and camera a rule names must exist
 * in `gpio:` / `cameras:`. Kept apart from the rules schema because it needs the other sections; the
 * config schema's top-level refinement calls it and reports the issues with the others.
 */
import { ruleId, type RuleConfig } from './rules-schema.js';

/** Names the rules may refer to. */
export interface RuleTargets {
  readonly outputs: readonly string[];
  readonly inputs: readonly string[];
  readonly cameras: readonly string[];
}

/** One problem, with its path inside `rules`. */
export interface RuleReferenceIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** Every reference to something that does not exist, in rule order. */
export function ruleReferenceIssues(rules: readonly RuleConfig[], targets: RuleTargets): RuleReferenceIssue[] {
  const issues: RuleReferenceIssue[] = [];
  const check = (path: (string | number)[], kind: string, name: string, known: readonly string[], id: string) => {
    if (!known.includes(name)) {
      const list = known.length > 0 ? known.join(', ') : 'none configured';
      issues.push({ path, message: `rule ${id}: unknown ${kind} "${name}" (known: ${list})` });
    }
  };
  rules.forEach((rule, i) => {
    const id = ruleId(rule, i);
    if (rule.then.output !== undefined)
      check([i, 'then', 'output'], 'GPIO output', rule.then.output, targets.outputs, id);
    if (rule.then.camera !== undefined) check([i, 'then', 'camera'], 'camera', rule.then.camera, targets.cameras, id);
    if (rule.when_input !== undefined) check([i, 'when_input'], 'GPIO input', rule.when_input, targets.inputs, id);
    const cameras = rule.when?.camera;
    if (cameras !== undefined) {
      for (const camera of typeof cameras === 'string' ? [cameras] : cameras)
        check([i, 'when', 'camera'], 'camera', camera, targets.cameras, id);
    }
  });
  return issues;
}
