/**
 * The board's face models by name (issue 24 §3, `classifiers:`): one ClassifierHolder each, in config
 * order, the first one being the model whose decision is an event's `class`. Each model has its own
 * model store (history, previous, self-test): the first one's is `models.dir` itself, where a board with
 * one model has always kept it, so existing boards keep their history; every further model's is
 * `models.dir/<name>`. A model may have a head on the face embedding (`head:`, issue 24 §4): loaded and
 * self-tested here with its model, its labels checked against the model's; it runs only where recognition
 * runs (src/daemon/track-heads.ts), which checks it against the running embedder. A pair pushed into the model's
 * store (`versions/…/head/`, src/model-push/head-package.ts) serves its head instead of the configured one; the
 * head swaps at run time through its owner (src/daemon/head-holder.ts, src/daemon/pair-reload.ts).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FaceedgeConfig, ResolvedClassifierConfig } from '../config/config-schema.js';
import { FaceedgeError } from '../errors.js';
import { assertSameLabels } from '../classification/paired-decision.js';
import { EmbeddingHead } from '../inference/embedding-head.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import { ModelStore } from '../model-push/model-store.js';
import type { InstalledHead } from '../model-push/head-package.js';
import { loadServingClassifier, type ClassifierHolder } from './classifier-holder.js';
import { HeadHolder } from './head-holder.js';

/** One configured model: its name, what serves it, its cadence and its store. */
export interface NamedClassifier {
  /** Its name (`attributes.<name>`, the model commands' `name`). */
  readonly name: string;
  readonly holder: ClassifierHolder;
  /** Its classify interval, ms; undefined for the first model (`tracker.classify_interval_ms`). */
  readonly intervalMs: number | undefined;
  /** Its model store folder. */
  readonly storeDir: string;
  /** `classifiers[i].model` / `.manifest`: what serves again when its store's only model is rolled back. */
  readonly configured: { readonly model: string; readonly manifest: string; readonly head: InstalledHead | null };
  /** The head serving now (`heads.current`), same labels; null without a head slot. */
  readonly head: EmbeddingHead | null;
  /** The owner of its head (swapped with a pushed pair or a rollback); null without a head slot (`head:`). */
  readonly heads: HeadHolder | null;
}

/** The model store folder of the `index`-th model named `name`: `models.dir` for the first, else `models.dir/<name>`. */
export function modelStoreDir(modelsDir: string, index: number, name: string): string {
  return index === 0 ? modelsDir : join(modelsDir, name);
}

export class ClassifierSet {
  /** Every model, in config order (never empty). */
  readonly models: readonly NamedClassifier[];

  constructor(models: readonly NamedClassifier[]) {
    if (models.length === 0) throw new FaceedgeError('CONFIG_INVALID', 'a board needs at least one classifier');
    this.models = models;
  }

  /** The first model: its decision is the event's `class`. */
  get first(): NamedClassifier {
    return this.models[0];
  }

  /** The models after the first, in config order. */
  get more(): readonly NamedClassifier[] {
    return this.models.slice(1);
  }

  /**
   * The model named `name`; absent: the first (so commands without a name keep working). Throws
   * `MODEL_NOT_FOUND` (typed, with the names there are) for a name the board does not have.
   */
  byName(name: string | undefined): NamedClassifier {
    if (name === undefined) return this.first;
    const found = this.models.find((m) => m.name === name);
    if (!found)
      throw new FaceedgeError('MODEL_NOT_FOUND', `this board has no model named "${name}"`, {
        hint: `its models: ${this.models.map((m) => m.name).join(', ')}`,
      });
    return found;
  }

  async close(): Promise<void> {
    await Promise.all(this.models.flatMap((m) => [m.holder.close(), ...(m.heads ? [m.heads.close()] : [])]));
  }
}

/** Called after a model's swap with its name, whether it is the first, and the classifier now serving. */
export type NamedSwapListener = (name: string, classifier: FaceClassifier, first: boolean) => void;

/**
 * Loads every configured model, each from its store's current model when it has one (see
 * loadServingClassifier), one after another (each model's worker thread starts with it). A model that
 * does not load at all fails the start, closing those already loaded.
 */
export async function loadClassifierSet(
  config: Pick<FaceedgeConfig, 'classifiers' | 'models'>,
  log: Logger,
  onSwapped: NamedSwapListener,
): Promise<ClassifierSet> {
  const models: NamedClassifier[] = [];
  try {
    for (const [index, c] of config.classifiers.entries()) {
      const storeDir = modelStoreDir(config.models.dir, index, c.name);
      const holder = await loadServingClassifier(
        { classifier: c, models: { ...config.models, dir: storeDir } },
        index === 0 ? log : log.child({ model: c.name }),
        (next) => onSwapped(c.name, next, index === 0),
      );
      let head: EmbeddingHead | null = null;
      let headPaths: InstalledHead | null = null;
      try {
        // The store's pair serves its own head (it was installed with the image model now serving).
        const stored = c.head ? ((await new ModelStore(storeDir).current())?.head ?? null) : null;
        const configured = c.head ? { modelPath: c.head.model, manifestPath: c.head.manifest } : null;
        headPaths = stored ?? configured;
        head = headPaths ? await loadHead(c.name, headPaths, holder.current.labels, log) : null;
        if (head?.pairingFor(holder.current.sha256)?.imageOnly)
          warnUnpaired(log, { name: c.name, head }, holder.current.sha256);
      } catch (err) {
        await holder.close();
        throw err;
      }
      models.push(
        namedClassifier(
          c,
          index,
          holder,
          storeDir,
          head && headPaths && new HeadHolder(head, headPaths, { model: c.name, log }),
        ),
      );
    }
  } catch (err) {
    await Promise.all(models.flatMap((m) => [m.holder.close(), ...(m.heads ? [m.heads.close()] : [])]));
    throw err;
  }
  return new ClassifierSet(models);
}

/**
 * Loads the head at `paths` (self-tested) and checks its labels are the model's and it has a pairing
 * (`MODEL_INVALID` otherwise: a start error, or a refused swap).
 */
export async function loadHead(
  name: string,
  paths: InstalledHead,
  labels: readonly string[],
  log: Logger,
): Promise<EmbeddingHead> {
  const { modelPath: model, manifestPath: manifest } = paths;
  const head = await EmbeddingHead.create({ modelPath: model, manifestPath: manifest, threads: 1 });
  try {
    assertSameLabels(labels, head.labels, `classifier ${name}`);
    if (!head.pairing)
      throw new FaceedgeError('MODEL_INVALID', `head ${model} has no combination for a pair`, {
        hint: 'export it with faceedge_train.heads_export --pair-with <the model manifest>',
      });
  } catch (err) {
    await head.close();
    throw err;
  }
  log.info({ model: name, head: head.id, path: model, embedder: head.manifest.input.embedder.id }, 'head loaded');
  return head;
}

/**
 * Warns that `model`'s pair is off beside the image model `imageModelSha256` (not the one its calibration was
 * fitted with): once at load, and once per swap (src/daemon/camera-set.ts).
 */
export function warnUnpaired(
  log: Logger,
  model: Pick<NamedClassifier, 'name' | 'head'>,
  imageModelSha256: string,
): void {
  log.warn(
    {
      model: model.name,
      head: model.head?.id,
      sha256: imageModelSha256.slice(0, 12),
      pairedWith: model.head?.manifest.combination?.with?.sha256?.slice(0, 12) ?? null,
    },
    'the image model is not the one its head was paired with: it decides alone (source image) until the pair is re-exported for it',
  );
}

function namedClassifier(
  c: ResolvedClassifierConfig,
  index: number,
  holder: ClassifierHolder,
  storeDir: string,
  heads: HeadHolder | null,
): NamedClassifier {
  const head = c.head ? { modelPath: c.head.model, manifestPath: c.head.manifest } : null;
  return {
    name: c.name,
    holder,
    intervalMs: index === 0 ? undefined : c.interval_ms,
    storeDir,
    configured: { model: c.model, manifest: c.manifest, head },
    get head() {
      return heads?.current ?? null;
    },
    heads,
  };
}
