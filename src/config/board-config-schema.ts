/**
 * The board-side sections of the configuration: Home Assistant discovery and the model store that
 * `faceedge model install` and MQTT pushes write to, plus the cross-section check that every output,
 * input and camera a rule names exists. The `gpio:` and `rules:` schemas live with their code.
 *
 * ```yaml
 * homeassistant: { enabled: true, discovery_prefix: homeassistant }
 * models:
 *   dir: /var/lib/faceedge/models        # default <state_dir>/models
 *   public_key: /etc/faceedge/model-signing.pub.pem
 *   require_signature: true
 *   push: { budget_bytes: 67108864, stall_timeout_s: 120 }   # MQTT pushes: defaults in src/model-push
 * ```
 */
import { z } from 'zod';
import { ruleReferenceIssues } from '../rules/rule-references.js';
import { rulesSchema } from '../rules/rules-schema.js';
import { recognitionSchema } from '../recognition/recognition-config-schema.js';
import { bool, num, topicPath } from '../schema/schema-helpers.js';
import { HA_DISCOVERY_PREFIX } from '../mqtt/mqtt-topics.js';

export const homeassistantSchema = z.strictObject({
  /** Publish the retained device-discovery message (and again when HA announces itself). Default true. */
  enabled: bool().default(true),
  /** HA's MQTT discovery prefix. Default `homeassistant`. */
  discovery_prefix: topicPath('discovery_prefix').default(HA_DISCOVERY_PREFIX),
});

/** Where `deploy/install.sh` puts the signing key; also the `faceedge model` CLI's default. */
export const DEFAULT_PUBLIC_KEY = '/etc/faceedge/model-signing.pub.pem';

export const modelsSchema = z.strictObject({
  /**
   * The model store (`current`/`previous` links, versions). When it has a current model the daemon
   * serves that instead of `classifier.model`. Default `<state_dir>/models`.
   */
  dir: z.string().min(1).optional(),
  /**
   * ed25519 public key (PEM) that pushed packages must be signed with. Default `/etc/faceedge/model-signing.pub.pem`.
   */
  public_key: z.string().min(1).default(DEFAULT_PUBLIC_KEY),
  /** Refuse unsigned packages pushed over MQTT. Default true; false only on a development board. */
  require_signature: bool().default(true),
  /** Bounds of model pushes over MQTT (one transfer at a time; refused without `public_key`). */
  push: z
    .strictObject({
      /**
       * Most bytes the transfer store in `state_dir` may hold, 1 MiB to 1 GiB. Default: one largest
       * package (64 MiB, `MAX_PACKAGE_BYTES`); a smaller budget also caps the package size.
       */
      budget_bytes: num(
        z
          .number()
          .int()
          .min(1024 * 1024)
          .max(1024 * 1024 * 1024),
      ).optional(),
      /** A transfer with no chunk for this long is abandoned and its chunks deleted, s, 10 to 3600. Default 120. */
      stall_timeout_s: num(z.number().int().min(10).max(3600)).optional(),
    })
    .prefault({}),
});

/** The part of zod's refinement context the check uses. */
interface IssueSink {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Adds an issue at `rules.<i>.…` for every reference to an unknown output, input or camera. Runs on
 * the whole (possibly partly invalid) tree so these are reported in the same pass as every other
 * problem; a section that is itself malformed is not used as the list of known names, so one mistake
 * is not reported twice.
 * @param models the configured models' names; absent (a malformed `classifiers:`): not checked.
 */
export function ruleReferenceCheck(tree: unknown, ctx: IssueSink, models?: readonly string[]): void {
  if (!isRecord(tree)) return;
  const rules = rulesSchema.safeParse(tree.rules ?? []);
  if (!rules.success || rules.data.length === 0) return;
  const gpio = tree.gpio ?? {};
  if (!isRecord(gpio)) return;
  const names = (v: unknown): string[] | null => (v === undefined ? [] : isRecord(v) ? Object.keys(v) : null);
  const outputs = names(gpio.outputs);
  const inputs = names(gpio.inputs);
  const cameras =
    tree.cameras === undefined
      ? []
      : Array.isArray(tree.cameras)
        ? tree.cameras.flatMap((c) => (isRecord(c) && typeof c.name === 'string' ? [c.name] : []))
        : null;
  const recognition = recognitionSchema.safeParse(tree.recognition ?? {});
  const issues = ruleReferenceIssues(rules.data, {
    outputs: outputs ?? [],
    inputs: inputs ?? [],
    cameras: cameras ?? [],
    recognitionEnabled: recognition.success ? recognition.data.enabled : undefined,
    safeOnOutputs: isRecord(gpio.outputs)
      ? Object.entries(gpio.outputs).flatMap(([name, o]) => (isRecord(o) && o.safe === 'on' ? [name] : []))
      : [],
    lockOutputs: isRecord(gpio.outputs)
      ? Object.entries(gpio.outputs).flatMap(([name, o]) =>
          isRecord(o) && bool().safeParse(o.lock).data === true ? [name] : [],
        )
      : [],
    models,
  });
  for (const issue of issues) {
    if (issue.path.includes('person') || issue.path.includes('attributes')) {
      ctx.addIssue({ code: 'custom', path: ['rules', ...issue.path], message: issue.message });
      continue;
    }
    const inputRef = issue.path.includes('when_input') || issue.path.includes('second_factor');
    const kind = inputRef ? inputs : issue.path.includes('output') ? outputs : cameras;
    if (kind === null) continue;
    ctx.addIssue({ code: 'custom', path: ['rules', ...issue.path], message: issue.message });
  }
}
