/**
 * Holds the classifier the pipelines use and swaps it for `model/reload` without a gap: the new
 * model is loaded and verified beside the old one, then swapped between two frames; the old one is
 * closed once its in-flight inference finishes. A failed load leaves the old model serving. Swaps run
 * one at a time (a bridge reload, a rollback and a change in the model store may all ask at once), and
 * each is announced through `onSwapped` once it is done.
 */
import type { Logger } from 'pino';
import type { FaceedgeConfig } from '../config/config-schema.js';
import { SerialQueue } from '../concurrency/serial-queue.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { FaceClassifier } from '../inference/face-classifier.js';
import type { DelegateSpec } from '../inference/delegate.js';
import { componentLogger } from '../observability/logger.js';
import { currentStoredModel } from './model-updates.js';

export interface ClassifierSettings {
  readonly modelPath: string;
  readonly manifestPath?: string;
  readonly threads: number;
  readonly delegate: DelegateSpec;
  /** Mirror-image averaging; undefined = the manifest's choice. */
  readonly flipAverage?: boolean;
}

/** Config spelling → delegate: `xnnpack`, `cpu`, or the path/soname of an external delegate. */
export function delegateFromConfig(name: string, options: Readonly<Record<string, string>> = {}): DelegateSpec {
  if (name === 'xnnpack' || name === 'cpu') return { kind: name };
  return { kind: 'external', library: name, options };
}

/** Called after every swap, with the classifier that serves from now on. */
export type SwapListener = (classifier: FaceClassifier) => void;

export class ClassifierHolder {
  #current: FaceClassifier;
  #settings: ClassifierSettings;
  readonly #log: Logger;
  readonly #onSwapped: SwapListener | undefined;
  readonly #swaps = new SerialQueue();

  private constructor(classifier: FaceClassifier, settings: ClassifierSettings, log: Logger, onSwapped?: SwapListener) {
    this.#current = classifier;
    this.#settings = settings;
    this.#log = log;
    this.#onSwapped = onSwapped;
  }

  static async create(settings: ClassifierSettings, log: Logger, onSwapped?: SwapListener): Promise<ClassifierHolder> {
    const classifier = await FaceClassifier.create({ ...settings });
    log.info({ model: classifier.id, path: settings.modelPath, delegate: classifier.delegate }, 'classifier loaded');
    return new ClassifierHolder(classifier, settings, log, onSwapped);
  }

  get current(): FaceClassifier {
    return this.#current;
  }

  /**
   * Loads `modelPath` (default: the serving one, re-read from disk) and swaps it in, after any swap
   * already asked for. Throws (typed) and keeps the current model when the new one does not load or
   * verify, or when its labels differ from the running model's (`MODEL_SHAPE_MISMATCH`).
   */
  reload(modelPath?: string, manifestPath?: string): Promise<FaceClassifier> {
    return this.#swaps.run(() => this.#reload(modelPath ?? this.#settings.modelPath, manifestPath));
  }

  async #reload(modelPath: string, manifestPath: string | undefined): Promise<FaceClassifier> {
    const settings = {
      ...this.#settings,
      modelPath,
      manifestPath: manifestPath ?? (modelPath === this.#settings.modelPath ? this.#settings.manifestPath : undefined),
    };
    const next = await FaceClassifier.create(settings);
    // Running tracks hold class indices and every tracker was built with these labels: a model with
    // other labels would publish its classes under the old names. That needs a restart, not a swap.
    const labels = this.#current.labels;
    if (next.labels.length !== labels.length || next.labels.some((l, i) => l !== labels[i])) {
      await next.close();
      throw new FaceedgeError(
        'MODEL_SHAPE_MISMATCH',
        `${modelPath} has labels [${next.labels.join(', ')}], the running model [${labels.join(', ')}]`,
        {
          hint: 'a model with other labels needs a daemon restart (set classifier.model and restart)',
        },
      );
    }
    const previous = this.#current;
    this.#current = next;
    this.#settings = settings;
    this.#log.info({ from: previous.id, to: next.id, path: modelPath }, 'classifier swapped');
    await previous.close();
    this.#onSwapped?.(next);
    return next;
  }

  async close(): Promise<void> {
    await this.#current.close();
  }
}

/**
 * The classifier a starting daemon serves: the model store's current model (installed by `faceedge
 * model install` or a push) when there is one, else `classifier.model`. A stored model that no longer
 * loads is logged and the configured one serves instead: a board must come up with some model.
 */
export async function loadServingClassifier(
  config: Pick<FaceedgeConfig, 'classifier' | 'models'>,
  log: Logger,
  onSwapped?: SwapListener,
): Promise<ClassifierHolder> {
  const settings = {
    threads: config.classifier.threads,
    delegate: delegateFromConfig(config.classifier.delegate, config.classifier.delegate_options),
    flipAverage: config.classifier.flip_average,
  };
  const clog = componentLogger(log, 'classifier');
  const stored = await currentStoredModel(config.models.dir).catch((err: unknown) => {
    log.warn(
      { dir: config.models.dir, err: (err as Error).message },
      'cannot read the model store; serving classifier.model',
    );
    return null;
  });
  if (stored) {
    try {
      const holder = await ClassifierHolder.create(
        { ...settings, modelPath: stored.modelPath, manifestPath: stored.manifestPath },
        clog,
        onSwapped,
      );
      log.info(
        { version: stored.name, dir: config.models.dir },
        "serving the model store's current model (not classifier.model)",
      );
      return holder;
    } catch (err) {
      if (!isFaceedgeError(err)) throw err;
      log.error(
        { version: stored.name, code: err.code, err: err.message },
        "the model store's current model does not load; serving classifier.model",
      );
    }
  }
  return ClassifierHolder.create(
    { ...settings, modelPath: config.classifier.model, manifestPath: config.classifier.manifest },
    clog,
    onSwapped,
  );
}
