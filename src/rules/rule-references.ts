/**
 * Cross-section checks of the `rules:` config: every output, input and camera a rule names must exist
 * in `gpio:` / `cameras:`, every model a rule's `when.attributes` names in `classifiers:`; a person rule needs
 * `recognition.enabled` and a lock output whose safe state is off (locked); no rule that drives a lock output
 * asks for attributes (an age band or a gender is no proof of who is there). Kept apart from the rules schema because it needs the other sections; the config schema's
 * top-level refinement calls it and reports the issues with the others. {@link ruleWarnings} lists what is
 * valid but weakens a lock (`faceedge config check` and the daemon's start print it).
 */
import { requiresLive, ruleId, type RuleConfig } from './rules-schema.js';

/** Names the rules may refer to. */
export interface RuleTargets {
  readonly outputs: readonly string[];
  readonly inputs: readonly string[];
  readonly cameras: readonly string[];
  /** `recognition.enabled`; person rules need it. Absent: not checked. */
  readonly recognitionEnabled?: boolean;
  /** Outputs whose safe state is on: a person rule's lock must not be one of them. */
  readonly safeOnOutputs?: readonly string[];
  /** Outputs configured `lock: true`: no rule on attributes may drive one. Absent: not checked. */
  readonly lockOutputs?: readonly string[];
  /** The configured models' names (`classifiers[].name`), which `when.attributes` may name. Absent: not checked. */
  readonly models?: readonly string[];
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
    const factor = rule.when?.second_factor;
    if (factor !== undefined)
      check([i, 'when', 'second_factor', 'input'], 'GPIO input', factor.input, targets.inputs, id);
    if (rule.when?.person !== undefined) issues.push(...personRuleTargetIssues(rule, i, id, targets));
    if (rule.when?.attributes !== undefined) issues.push(...attributeRuleTargetIssues(rule, i, id, targets));
    const cameras = rule.when?.camera;
    if (cameras !== undefined) {
      for (const camera of typeof cameras === 'string' ? [cameras] : cameras)
        check([i, 'when', 'camera'], 'camera', camera, targets.cameras, id);
    }
  });
  return issues;
}

/** A person rule on a board that recognizes nobody, or pulsing an output that is on (open) when safe. */
function personRuleTargetIssues(rule: RuleConfig, i: number, id: string, targets: RuleTargets): RuleReferenceIssue[] {
  const issues: RuleReferenceIssue[] = [];
  if (targets.recognitionEnabled === false)
    issues.push({
      path: [i, 'when', 'person'],
      message: `rule ${id}: a person rule needs recognition.enabled: true (the board recognizes nobody)`,
    });
  const output = rule.then.output;
  if (output !== undefined && targets.safeOnOutputs?.includes(output))
    issues.push({
      path: [i, 'then', 'output'],
      message:
        `rule ${id}: the lock output "${output}" has safe: on, so it would stand open at start, stop and crash; ` +
        'a lock is locked when off (wire a power-to-lock maglock with active_low: true)',
    });
  return issues;
}

/** A rule on attributes naming a model that is not configured, or driving a lock. */
function attributeRuleTargetIssues(
  rule: RuleConfig,
  i: number,
  id: string,
  targets: RuleTargets,
): RuleReferenceIssue[] {
  const issues: RuleReferenceIssue[] = [];
  const { models, lockOutputs } = targets;
  for (const model of Object.keys(rule.when?.attributes ?? {})) {
    if (models === undefined || models.includes(model)) continue;
    issues.push({
      path: [i, 'when', 'attributes', model],
      message: `rule ${id}: unknown model "${model}" (models: ${models.join(', ') || 'none configured'})`,
    });
  }
  const output = rule.then.output;
  if (output !== undefined && lockOutputs?.includes(output))
    issues.push({
      path: [i, 'when', 'attributes'],
      message:
        `rule ${id}: drives the lock "${output}" on attributes: an age band or a gender must never gate access ` +
        '(the model cards say so); open a lock with a person rule (when.person)',
    });
  return issues;
}

/**
 * Valid settings that weaken a lock: one sentence each, with the rule's path.
 * @param lockOutputs the outputs configured `lock: true`.
 */
export function ruleWarnings(rules: readonly RuleConfig[], lockOutputs: readonly string[] = []): RuleReferenceIssue[] {
  const warnings: RuleReferenceIssue[] = [];
  const warn = (path: (string | number)[], message: string) => warnings.push({ path, message });
  rules.forEach((rule, i) => {
    const id = ruleId(rule, i);
    const output = rule.then.output;
    const opensLock = output !== undefined && lockOutputs.includes(output) && rule.then.state !== 'off';
    if (rule.when?.person === undefined) {
      if (opensLock)
        warn(
          [i, 'then', 'output'],
          `rule ${id}: opens the lock "${output}" without knowing who is there (no when.person): ` +
            'anyone who trips it opens the door',
        );
      return;
    }
    if (!requiresLive(rule.when))
      warn(
        [i, 'when', 'require_live'],
        `rule ${id}: require_live is false: a printed photo or a phone screen showing an enrolled person opens this lock`,
      );
    if (rule.when.camera === undefined)
      warn(
        [i, 'when', 'camera'],
        `rule ${id}: no camera named: a face seen at any camera of the board opens this lock`,
      );
  });
  return warnings;
}
