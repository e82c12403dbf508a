/**
 * The `rules:` section: declarative rules that turn track events and GPIO inputs into actions.
 *
 * ```yaml
 * rules:
 *   - id: unlock-door                     # event rule: a confident track pulses the lock
 *     when: { camera: door, class: [female, male], min_score: 0.9, min_frames: 3 }
 *     then: { output: door_lock, pulse_ms: 3000 }
 *     cooldown_ms: 10000                  # at most one action per 10 s
 *   - id: teen-at-door                    # event rule on another model's label (`classifiers:`)
 *     when: { camera: door, attributes: { age: ['13-19'] } }   # or { age: { label: ['13-19'], min_score: 0.7 } }
 *     then: { output: chime, pulse_ms: 500 }
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
 *   - id: front-door                      # person rule (a lock): needs recognition.enabled
 *     when:
 *       camera: door
 *       person: [alice, bob]              # or any-known; never matches an unknown face
 *       min_similarity: 0.5               # optional, on top of the recognizer's own threshold
 *       second_factor: { input: button, within_s: 10 }   # optional: the button too, either order
 *     then: { gpio: door_lock, pulse_ms: 3000 }          # `gpio` is another spelling of `output`
 * ```
 *
 * A rule with `when.person` is a person rule: src/rules/access-engine.ts decides it (liveness, lockout,
 * second factor, the access log); every other event rule is src/rules/rules-engine.ts's.
 */
import { z } from 'zod';
import { bool, num } from '../schema/schema-helpers.js';

const ID = /^[A-Za-z0-9_-]+$/;
const name = z.string().regex(ID, 'must be a name made of letters, digits, "_" and "-"');
const oneOrMany = z.union([name, z.array(name).min(1)]);

/** `when.require_live` of a person rule that does not say: the face must be judged live. */
export const DEFAULT_REQUIRE_LIVE = true;

/** `when.person: any-known`: any enrolled person (a matched name), never `unknown`. */
export const ANY_KNOWN_PERSON = 'any-known';

/**
 * An enrolled person's name as the gallery stores it (src/recognition/gallery-person.ts validates names at
 * enrolment; a rule naming someone not enrolled simply never matches). Up to 64 characters.
 */
const personName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .transform((n) => n.normalize('NFC'));

/**
 * A label of a model as its manifest names it (`female`, `13-19`, `60+`), or `unknown` (inside the model's
 * unsure band). Checked against the model's manifest at start (src/rules/rule-references.ts).
 */
const labelName = z.string().trim().min(1).max(64);
const oneOrManyLabels = z.union([labelName, z.array(labelName).min(1)]);
const asLabelList = (labels: string | string[]): readonly string[] => (typeof labels === 'string' ? [labels] : labels);

/**
 * One model's condition in `when.attributes`: the label(s) it must have decided, written alone
 * (`age: ['13-19', '20-29']`) or with a least score (`age: { label: '13-19', min_score: 0.7 }`). Both read as
 * `{ label: [...], min_score }`.
 */
export const attributeConditionSchema = z.union([
  oneOrManyLabels.transform((label) => ({ label: asLabelList(label), min_score: 0 })),
  z
    .strictObject({
      /** Label(s) of the model, any of which matches. */
      label: oneOrManyLabels,
      /** Least score of that model's decision (`attributes.<model>.score`), 0..1. Default 0. */
      min_score: num(z.number().min(0).max(1)).default(0),
    })
    .transform(({ label, min_score }) => ({ label: asLabelList(label), min_score })),
]);

/** `when.attributes`: by model name (`classifiers[].name`), every one of which must match. */
const attributesSchema = z
  .record(name, attributeConditionSchema)
  .refine((models) => Object.keys(models).length > 0, { message: 'attributes needs at least one model' });

/** The second factor of a person rule: a GPIO input active within `within_s` of the recognition, either order. */
export const secondFactorSchema = z.strictObject({
  /** The GPIO input (a button, a keypad's relay contact, a PIR). */
  input: name,
  /** The input value that counts as active. Default true. */
  active: bool().default(true),
  /** Most seconds between the recognition and the input's activation, in either order, 1..600. Default 10. */
  within_s: num(z.number().min(1).max(600)).default(10),
});

export const ruleConditionSchema = z.strictObject({
  /** Camera name(s) the event must come from. Default: any camera. */
  camera: oneOrMany.optional(),
  /** Class label(s) of the track (the first model's decision), or `any` (default). */
  class: z.union([z.literal('any'), oneOrMany]).default('any'),
  /** Minimum track confidence `after.score`, 0..1. Default 0. */
  min_score: num(z.number().min(0).max(1)).default(0),
  /** Minimum frames the track was seen in (`after.frames`). Default 1. */
  min_frames: num(z.number().int().min(1)).default(1),
  /**
   * Labels of any configured model, by model name (`attributes: { age: ['13-19'] }`); all must match.
   * Never on a rule that drives a lock: an attribute (an age band, a gender) is no proof of who is there.
   */
  attributes: attributesSchema.optional(),
  /** Event types that can trigger: default `[new, update]` (a track can qualify as it gathers frames). */
  events: z
    .array(z.enum(['new', 'update', 'end']))
    .min(1)
    .default(['new', 'update']),
  /**
   * Person rule: the enrolled person(s) the rule opens for, or `any-known`. Never matches `unknown`, a
   * track not yet recognized, or a board without recognition (a config error).
   */
  person: z.union([z.literal(ANY_KNOWN_PERSON), personName, z.array(personName).min(1)]).optional(),
  /**
   * Person rules: the face must be judged live (liveness `live`). Default true ({@link DEFAULT_REQUIRE_LIVE});
   * false lets a photo of an enrolled person open the door, and `faceedge config check` warns about it.
   */
  require_live: bool().optional(),
  /** Person rules: least cosine similarity of the match, on top of the recognizer's own threshold. Default: none. */
  min_similarity: num(z.number().min(-1).max(1)).optional(),
  /** Person rules: a GPIO input that must also be active (default: none). */
  second_factor: secondFactorSchema.optional(),
});

const ruleThenFields = z.strictObject({
  /** GPIO output to drive. */
  output: name.optional(),
  /** Another spelling of `output` (the issue's `then: { gpio: lock, pulse_ms: 3000 }`); read as `output`. */
  gpio: name.optional(),
  /** Pulse the output on for this long, ms. */
  pulse_ms: num(z.number().int().min(1).max(3_600_000)).optional(),
  /** Set the output on or off (instead of a pulse). */
  state: z.enum(['on', 'off']).optional(),
  /** Input rules only: the camera runs only while the rule holds. */
  camera: name.optional(),
});

/** `then:`, with `gpio` folded into `output` so that everything after the schema knows one spelling. */
export const ruleThenSchema = ruleThenFields
  .refine((then) => then.gpio === undefined || then.output === undefined, {
    message: 'give output or gpio (two spellings of one key), not both',
  })
  .transform(({ gpio, ...then }) => ({ ...then, output: then.output ?? gpio }));

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
      personRuleIssues(rule.when, then, issue);
    }
  });

/** Person rules open a lock: only for a pulse (it always ends locked), and their own keys only with `person`. */
function personRuleIssues(
  when: z.output<typeof ruleConditionSchema>,
  then: z.output<typeof ruleThenSchema>,
  issue: (path: (string | number)[], message: string) => void,
): void {
  if (when.person === undefined) {
    if (when.min_similarity !== undefined) issue(['when', 'min_similarity'], 'min_similarity needs person');
    if (when.second_factor !== undefined) issue(['when', 'second_factor'], 'second_factor needs person');
    if (when.require_live !== undefined) issue(['when', 'require_live'], 'require_live needs person');
    return;
  }
  if (when.attributes !== undefined)
    issue(
      ['when', 'attributes'],
      'a person rule cannot ask for attributes: an age band or a gender must never gate access',
    );
  if (then.pulse_ms === undefined)
    issue(['then'], 'a person rule opens a lock with pulse_ms (a pulse always ends locked), not state');
  if (when.events.includes('end')) issue(['when', 'events'], "a person rule cannot fire on a track's end");
}

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

/** Whether person rule `when` requires a live face: its `require_live`, else {@link DEFAULT_REQUIRE_LIVE}. */
export function requiresLive(when: Pick<NonNullable<RuleConfig['when']>, 'require_live'>): boolean {
  return when.require_live ?? DEFAULT_REQUIRE_LIVE;
}

/** The id a rule is known by: its `id`, else `rule-<position, 1-based>`. */
export function ruleId(rule: Pick<RuleConfig, 'id'>, index: number): string {
  return rule.id ?? `rule-${index + 1}`;
}
