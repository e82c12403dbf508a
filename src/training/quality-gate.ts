/**
 * Whether a freshly trained model may be shipped. A site integrator cannot judge a confusion matrix, so
 * `faceedge train` refuses two kinds of bad model outright and says why:
 *   - one no better than guessing: its test macro recall (the mean of the per-class recalls, which a model that
 *     answers one class for everything scores 1/N on) must beat chance, 1/N, by `minGainOverChance`;
 *   - one whose int8 file, the one the board runs, answers worse than its float file by more than
 *     `maxInt8DropPoints` on the test split.
 * Whether the model is good enough for its job is the integrator's call; the report gives the figures.
 */

export interface QualityGateLimits {
  /** Test macro recall must be at least 1/N + this (0..1). Default 0.1. */
  readonly minGainOverChance: number;
  /** int8 test accuracy may be at most this many points (0..100) below float. Default 1. */
  readonly maxInt8DropPoints: number;
}

export const DEFAULT_QUALITY_GATE: QualityGateLimits = { minGainOverChance: 0.1, maxInt8DropPoints: 1 };

interface SplitMetrics {
  readonly n?: number;
  readonly accuracy?: number;
  readonly macro_recall?: number;
  readonly off_by_more_than_one?: number;
  readonly per_class?: Readonly<Record<string, { readonly recall?: number }>>;
}

export interface VerifyReport {
  readonly model: string;
  /** `faceedge_train.verify_export` on the test split: both files in the TFLite runtime. */
  readonly runtime: {
    readonly n: number;
    readonly float_accuracy: number;
    readonly int8_accuracy: number;
    readonly int8_float_agreement: number;
  };
  /** What the export recorded: the labels and the checkpoint's val/test metrics. */
  readonly manifest: {
    readonly labels: readonly string[];
    readonly metrics?: { readonly val?: SplitMetrics; readonly test?: SplitMetrics };
  };
  /** The board's own self-test of each file. */
  readonly selftest: readonly { readonly cases: number; readonly maxError: number }[];
}

export interface QualityVerdict {
  readonly ok: boolean;
  /** What the gate measured, one line each (printed either way). */
  readonly lines: readonly string[];
  /** Why the model is refused; empty when ok. */
  readonly refusals: readonly string[];
}

/** Macro recall of a split: recorded, or the mean of the per-class recalls. */
function macroRecall(m: SplitMetrics | undefined): number | null {
  if (!m) return null;
  if (typeof m.macro_recall === 'number') return m.macro_recall;
  const recalls = Object.values(m.per_class ?? {}).flatMap((c) => (typeof c.recall === 'number' ? [c.recall] : []));
  return recalls.length > 0 ? recalls.reduce((a, b) => a + b, 0) / recalls.length : null;
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

export function qualityGate(report: VerifyReport, limits: QualityGateLimits): QualityVerdict {
  const lines: string[] = [];
  const refusals: string[] = [];
  const classes = report.manifest.labels.length;
  const chance = 1 / classes;
  const test = report.manifest.metrics?.test;
  const recall = macroRecall(test);
  if (recall === null) {
    refusals.push('the export recorded no test metrics (an empty test split?)');
  } else {
    lines.push(
      `test (${test?.n ?? '?'} faces, checkpoint): accuracy ${pct(test?.accuracy ?? NaN)}, macro recall ${pct(recall)} (chance ${pct(chance)})` +
        (typeof test?.off_by_more_than_one === 'number'
          ? `, off by more than one ${pct(test.off_by_more_than_one)}`
          : ''),
    );
    if (recall < chance + limits.minGainOverChance)
      refusals.push(
        `test macro recall ${pct(recall)} is not ${Math.round(limits.minGainOverChance * 100)} points above chance (${pct(chance)})`,
      );
  }
  const { float_accuracy: float, int8_accuracy: int8, n, int8_float_agreement: agreement } = report.runtime;
  const drop = (float - int8) * 100;
  lines.push(`TFLite on test (${n} faces): float ${pct(float)}, int8 ${pct(int8)}, the two agree on ${pct(agreement)}`);
  if (drop > limits.maxInt8DropPoints)
    refusals.push(`the int8 file is ${drop.toFixed(1)} points below float (at most ${limits.maxInt8DropPoints})`);
  for (const [i, t] of report.selftest.entries())
    lines.push(`self-test of file ${i + 1}: ${t.cases} cases, max |Δp| ${t.maxError.toFixed(5)}`);
  return { ok: refusals.length === 0, lines, refusals };
}
