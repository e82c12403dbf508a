/**
 * `faceedge eval --head`: the model as it ships when it ships as a pair (issue 24 §4, models/age/README.md), the
 * image model and a head on the face embedding. For each detected face, the same face is embedded by the
 * daemon's own embedder (its manifest's alignment and test-time flip), the head gives its log-probabilities, and
 * the pair decides by `paired-decision.ts`, the one definition of the rule the daemon also uses.
 */
import type { RgbImage } from '../capture/frame.js';
import { argmax } from '../classification/classification.js';
import {
  assertSameLabels,
  pairedDecision,
  pairedProbabilities,
  type PairingRules,
} from '../classification/paired-decision.js';
import { FaceedgeError } from '../errors.js';
import { EmbeddingHead } from '../inference/embedding-head.js';
import { FaceEmbedder } from '../inference/face-embedder.js';
import { shippedEmbedderPath } from '../inference/shipped-model.js';
import type { DetectedFace } from '../vision/face.js';
import type { ImageOutcome } from './image-outcome.js';

/** What pair evaluation needs of the embedder and the head (`FaceEmbedder` and `EmbeddingHead` are them). */
export interface EvalPair {
  readonly embedder: Pick<FaceEmbedder, 'id' | 'sha256' | 'flipAverage' | 'crop' | 'embedCropSync'>;
  readonly head: Pick<EmbeddingHead, 'id' | 'modelPath' | 'sha256' | 'logProbabilities'>;
  /** The head manifest's `combination`: the pair's temperature and unsure floor. */
  readonly rules: PairingRules;
}

/** `summary.pair` of `faceedge eval --head --json`: which head, beside which embedder, decided how. */
export interface PairAbout {
  readonly head: { readonly id: string; readonly path: string; readonly sha256: string };
  readonly embedder: { readonly id: string; readonly sha256: string; readonly test_time_flip: boolean };
  readonly temperature: number;
  readonly unsure_floor: number;
}

/** The pair's description for the summary. */
export function pairAbout(pair: EvalPair): PairAbout {
  return {
    head: { id: pair.head.id, path: pair.head.modelPath, sha256: pair.head.sha256 },
    embedder: { id: pair.embedder.id, sha256: pair.embedder.sha256, test_time_flip: pair.embedder.flipAverage },
    temperature: pair.rules.temperature,
    unsure_floor: pair.rules.unsureFloor,
  };
}

/**
 * Loads the head and the embedder and checks they belong to the model: the head's labels are `labels` in the same
 * order, it has a `combination` for a pair, and it was trained on this embedder (sha256, test-time flip, size: the
 * head runtime's own {@link EmbeddingHead.checkEmbedder}). Throws `MODEL_INVALID` otherwise, with nothing left open.
 * `embedderPath` defaults to the shipped `models/face-embed/`.
 */
export async function openEvalPair(options: {
  readonly headPath: string;
  readonly labels: readonly string[];
  readonly embedderPath?: string;
}): Promise<EvalPair & { close(): Promise<void> }> {
  const head = await EmbeddingHead.create({ modelPath: options.headPath });
  let embedder: FaceEmbedder | null = null;
  try {
    assertSameLabels(options.labels, head.labels, `--head ${options.headPath}`);
    const rules = head.pairing;
    if (!rules)
      throw new FaceedgeError('MODEL_INVALID', `head ${options.headPath} has no combination for a pair`, {
        hint: 'export it with faceedge_train.heads_export --pair-with <the model manifest>',
      });
    embedder = await FaceEmbedder.create({ modelPath: options.embedderPath ?? shippedEmbedderPath() });
    head.checkEmbedder(embedder);
    const opened = embedder;
    return {
      embedder: opened,
      head,
      rules,
      close: async () => {
        await Promise.all([opened.close(), head.close()]);
      },
    };
  } catch (err) {
    await Promise.all([head.close(), embedder?.close()]);
    throw err;
  }
}

/**
 * The pair's answer for one face, in the fields of an {@link ImageOutcome}: from the image model's probabilities
 * and the head's log-probabilities (both in the labels' order) by `pairedProbabilities` and `pairedDecision`.
 * Three or more labels, as eval scores the image model: the most probable label also below the pair's unsure floor
 * (`unsure` says so), `probability` its probability; two labels, `probability` is the positive label's.
 */
export function pairAnswer(
  labels: readonly string[],
  imageProbabilities: readonly number[],
  headLogProbabilities: readonly number[],
  rules: PairingRules,
): Pick<ImageOutcome, 'predicted' | 'unsure' | 'probability'> {
  const probabilities = pairedProbabilities(imageProbabilities, headLogProbabilities, rules.temperature);
  const decided = pairedDecision(labels, probabilities, rules);
  if (labels.length === 2) return { predicted: labels[argmax(probabilities)], probability: probabilities[1] };
  return {
    predicted: labels[decided.side],
    unsure: decided.label !== labels[decided.side],
    probability: decided.confidence,
  };
}

/**
 * The pair's outcome for the face that gave `alone` (the image model's outcome, classified): the face embedded from
 * the full-resolution `image` as the daemon embeds a track's face, then the head and the pair's rule. `msFace` is
 * the whole pair's: the image model's time plus the embedder's and the head's.
 */
export async function pairedOutcome(
  pair: EvalPair,
  labels: readonly string[],
  alone: ImageOutcome,
  face: { readonly image: RgbImage; readonly face: DetectedFace; readonly imageProbabilities: readonly number[] },
): Promise<ImageOutcome> {
  const started = performance.now();
  const embedding = pair.embedder.embedCropSync(pair.embedder.crop(face.image, face.face));
  const headLog = await pair.head.logProbabilities(embedding);
  const ms = performance.now() - started;
  return {
    ...alone,
    ...pairAnswer(labels, face.imageProbabilities, headLog, pair.rules),
    msImage: alone.msImage + ms,
    msFace: (alone.msFace ?? 0) + ms,
  };
}
