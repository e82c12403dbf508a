/**
 * The `rules:` section: declarative rules that turn track events and GPIO inputs into actions.
 *
 * ```yaml
 * rules:
 *   - id: unlock-door                     # event rule: a confident track pulses the lock
 *     when: { camera: door, class: [female, male], min_score: 0.9, min_frames: 3 }
 *     then: { output: door_lock, pulse_ms: 3000 }
 *     cooldown_ms: 10000                  # at most one action per 10 s
 *   - id: door-camera-on-motion           # input rule: run the camera while pir is active, plus 20 s
 *     when_input: pir
 *     then: { camera: door }
 *     hold_ms: 20000
 *   - id: porch-light                     # input rule: LED on while pir is active, plus 60 s
 *     when_input: pir
 *     then: { output: led }
 *     hold_ms: 60000
 *   - id: doorbell                        # input rule: pulse on each activation
 *     when_input: button
 *     then: { output: chime, pulse_ms: 500 }
 *     cooldown_ms: 2000
 * ```
 */
import { z } from 'zod';
import { bool, num } from '../schema/schema-helpers.js';

const ID = /^[A-Za-z0-9_-]+$/;
const name = z.string().regex(ID, 'must be a name made of letters, digits, "_" and "-"');
const oneOrMany = z.union([name, z.array(name).min(1)]);

export const ruleConditionSchema = z.strictObject({
  /** Camera name(s) the event must come from. Default: any camera. */
  camera: oneOrMany.optional(),
  /** Class label(s) of the track, or `any` (default). */
  class: z.union([z.literal('any'), oneOrMany]).default('any'),
  /** Minimum track confidence `after.score`, 0..1. Default 0. */
  min_score: num(z.number().min(0).max(1)).default(0),
  /** Minimum frames the track was seen in (`after.frames`). Default 1. */
  min_frames: num(z.number().int().min(1)).default(1),
  /** Event types that can trigger: default `[new, update]` (a track can qualify as it gathers frames). */
  events: z
    .array(z.enum(['new', 'update', 'end']))
    .min(1)
    .default(['new', 'update']),
});

export const ruleThenSchema = z.strictObject({
  /** GPIO output to drive. */
  output: name.optional(),
  /** Pulse the output on for this long, ms. */
  pulse_ms: num(z.number().int().min(1).max(3_600_000)).optional(),
  /** Set the output on or off (instead of a pulse). */
  state: z.enum(['on', 'off']).optional(),
  /** Input rules only: the camera runs only while the rule holds. */
  camera: name.optional(),
});

export const ruleSchema = z
  .strictObject({
    /** Names the rule in logs and published actions. Default `rule-<n>` (1-based position). */
    id: name.optional(),
    /** Event rule: conditions on a track event. */
    when: ruleConditionSchema.optional(),
    /** Input rule: the GPIO input that drives it. */
    when_input: name.optional(),
    /** Input rules: the input value that counts as active. Default true. */
    active: bool().default(true),
    then: ruleThenSchema,
    /** At most one action per this many ms (storms are cut to one action per window). Default 0. */
    cooldown_ms: num(z.number().int().min(0).max(86_400_000)).default(0),
    /** Event rules: each track triggers the rule at most once. Default true. */
    once_per_track: bool().default(true),
    /** Input rules holding a camera or output: keep holding this long after the input goes inactive, ms. Default 0. */
    hold_ms: num(z.number().int().min(0).max(86_400_000)).default(0),
  })
  .superRefine((rule, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const { then } = rule;
    if ((rule.when === undefined) === (rule.when_input === undefined)) {
      issue([], 'a rule needs exactly one of "when" (track events) or "when_input" (a GPIO input)');
      return;
    }
    if (then.pulse_ms !== undefined && then.state !== undefined) issue(['then'], 'give pulse_ms or state, not both');
    if ((then.pulse_ms !== undefined || then.state !== undefined) && then.output === undefined)
      issue(['then'], 'pulse_ms and state need an output');
    if (then.camera !== undefined && then.output !== undefined)
      issue(['then'], 'a rule drives an output or a camera, not both');
    if (then.camera === undefined && then.output === undefined) issue(['then'], 'then needs an output or a camera');
    if (rule.when !== undefined) {
      if (then.camera !== undefined) issue(['then', 'camera'], 'only input rules can run a camera');
      if (then.output !== undefined && then.pulse_ms === undefined && then.state === undefined) {
        issue(['then'], 'an event rule needs pulse_ms or state for its output');
      }
    }
  });

/** The list, with unique ids (explicit or default). */
export const rulesSchema = z.array(ruleSchema).superRefine((rules, ctx) => {
  const seen = new Map<string, number>();
  rules.forEach((rule, i) => {
    const id = ruleId(rule, i);
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate rule id "${id}" (also rules.${first})` });
  });
});

export type RuleConfig = z.output<typeof ruleSchema>;

/** The id a rule is known by: its `id`, else `rule-<position, 1-based>`. */
export function ruleId(rule: Pick<RuleConfig, 'id'>, index: number): string {
  return rule.id ?? `rule-${index + 1}`;
}
