/**
 * The start check of rules on attributes (`when.attributes`, issue 24 §3): every label a rule asks of a
 * model must be one that model's manifest has (or `unknown`, its unsure decision). The labels are known only
 * once the models are loaded, so the daemon runs this at start, after loading them, and refuses to start
 * with a rule that could never match. (Which model names exist is checked with the config:
 * src/rules/rule-references.ts.)
 */
import { UNSURE_LABEL } from '../classification/classification.js';
import { FaceedgeError } from '../errors.js';
import { ruleId, type RuleConfig } from './rules-schema.js';

/** A configured model as the check sees it: its name and its manifest's labels. */
export interface ModelLabels {
  readonly name: string;
  readonly labels: readonly string[];
}

/** One sentence per label (or model) a rule asks for that no loaded model has, with the rule's path. */
export function ruleAttributeIssues(
  rules: readonly RuleConfig[],
  models: readonly ModelLabels[],
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  rules.forEach((rule, i) => {
    const id = ruleId(rule, i);
    for (const [model, wanted] of Object.entries(rule.when?.attributes ?? {})) {
      const path = [i, 'when', 'attributes', model];
      const found = models.find((m) => m.name === model);
      if (!found) {
        const known = models.map((m) => m.name).join(', ');
        issues.push({ path, message: `rule ${id}: no model named "${model}" (models: ${known})` });
        continue;
      }
      for (const label of wanted.label) {
        if (label === UNSURE_LABEL || found.labels.includes(label)) continue;
        issues.push({
          path,
          message: `rule ${id}: model "${model}" has no label "${label}" (its labels: ${found.labels.join(', ')}, ${UNSURE_LABEL})`,
        });
      }
    }
  });
  return issues;
}

/**
 * Throws `CONFIG_INVALID` naming every label a rule asks for that the loaded models do not have.
 * @param models the board's models in config order, with the labels of the manifests being served.
 */
export function assertRuleAttributes(rules: readonly RuleConfig[], models: readonly ModelLabels[]): void {
  const issues = ruleAttributeIssues(rules, models);
  if (issues.length === 0) return;
  throw new FaceedgeError(
    'CONFIG_INVALID',
    `rules ask for labels the models do not have: ${issues.map((i) => `rules.${i.path.join('.')}: ${i.message}`).join('; ')}`,
    { hint: "a rule's when.attributes names a model of classifiers: and labels of that model's manifest" },
  );
}
