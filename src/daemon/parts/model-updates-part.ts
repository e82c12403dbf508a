/**
 * New models reaching the running board, as a part: the model store watched for `faceedge model install` /
 * `rollback` from a shell (SSH pushes), the MQTT push receiver (src/daemon/model-updates.ts), and the bridge
 * commands `model/reload` (a named package verified like an install, src/daemon/model-reload-request.ts) and
 * `model/rollback` (src/daemon/model-rollback-command.ts). Every path swaps the serving classifier through
 * the one holder, one swap at a time; a model that fails to load leaves the old one serving.
 *
 * Several models per face (`classifiers:`): each model has its own store (src/daemon/classifier-set.ts),
 * watched on its own; `model/reload` and `model/rollback` take the model's `name` (default: the first).
 * MQTT pushes name the model too (`begin`'s `name`, default the first) and install into its store. A model with
 * a head slot (`classifiers[].head`) takes pairs and heads (src/model-push/head-package.ts): every reload serves
 * the version's head with its image model (src/daemon/pair-reload.ts), so a rollback takes both back.
 */
import { FaceedgeError } from '../../errors.js';
import { componentLogger } from '../../observability/logger.js';
import type { BridgeCommandSpec } from '../../mqtt/bridge-dispatcher.js';
import { definePart, type DaemonPart, type PartContext } from '../daemon-part.js';
import { parseModelReloadRequest } from '../model-reload-request.js';
import { modelRollbackHandler } from '../model-rollback-command.js';
import { ModelUpdates, type ModelUpdatesOptions } from '../model-updates.js';
import type { PushTarget } from '../../model-push/push-receiver-options.js';
import { reloadPair, type EmbedderOf } from '../pair-reload.js';

interface ModelUpdatesSlice {
  readonly models: ModelUpdatesOptions['models'];
  readonly stateDir: string;
  readonly baseTopic: string;
}

class ModelUpdatesPart implements DaemonPart {
  readonly commands: Readonly<Record<string, BridgeCommandSpec>>;
  /** One per model, by name; the first one's also receives MQTT pushes. */
  readonly #updates: ReadonlyMap<string, ModelUpdates>;
  /** Set once the store is watched and the receiver attached; requests before that are refused. */
  #running = false;

  constructor(slice: ModelUpdatesSlice, { services, log }: PartContext) {
    const { classifiers } = services;
    // The embedder a head is pinned to: the board's, where recognition runs (else no head runs, nothing to pin).
    const embedder: EmbedderOf = async () => (services.embedder ? services.embedder.get() : null);
    this.#updates = new Map(
      classifiers.models.map((model, index) => [
        model.name,
        new ModelUpdates({
          models: { ...slice.models, dir: model.storeDir },
          stateDir: slice.stateDir,
          mqtt: services.mqtt,
          baseTopic: slice.baseTopic,
          deviceId: services.deviceId,
          reload: async (m) => void (await reloadPair(model, m, embedder, log)),
          log: componentLogger(log, 'models', index === 0 ? {} : { model: model.name }),
          audit: services.audit,
          receivePushes: index === 0,
          head: { slot: model.heads !== null, embedder },
          // A push naming a model installs into that model's own store, with its own self-test and history.
          pushTargetNamed: (name) => this.#pushTarget(classifiers.byName(name).name),
        }),
      ]),
    );
    const updatesOf = (name: string | undefined) => this.#updates.get(classifiers.byName(name).name) ?? null;
    this.commands = {
      // Payload and checks: model-reload-request.ts (a named model is verified like an install).
      'model/reload': {
        run: async (params) => {
          const target = parseModelReloadRequest(params);
          const model = classifiers.byName(target.name);
          if (!this.#running) throw new FaceedgeError('REQUEST_INVALID', 'model/reload: the daemon is still starting');
          await updatesOf(model.name)?.verifyReload(target);
          const next = await model.holder.reload(target.modelPath, target.manifestPath);
          return { name: model.name, id: next.id, path: next.modelPath, sha256: next.sha256, delegate: next.delegate };
        },
        describe: (_params, result) => {
          const served = result as { id: string; path: string; sha256: string };
          return { target: served.path, detail: { id: served.id, sha256: served.sha256 } };
        },
      },
      'model/rollback': {
        run: modelRollbackHandler({
          updates: (name) => (this.#running ? updatesOf(name) : null),
          serving: (name) => {
            const { current } = classifiers.byName(name).holder;
            return { id: current.id, sha256: current.sha256 };
          },
          serveConfigured: async (name) => {
            const model = classifiers.byName(name);
            const { model: modelPath, manifest: manifestPath } = model.configured;
            await reloadPair(model, { modelPath, manifestPath, head: null }, embedder, log);
          },
        }),
        describe: (_params, result) => ({ target: 'serving model', detail: result as Record<string, unknown> }),
      },
    };
  }

  #pushTarget(name: string): PushTarget {
    const updates = this.#updates.get(name);
    if (!updates) throw new FaceedgeError('MODEL_NOT_FOUND', `this board has no model named "${name}"`);
    return updates.pushTarget;
  }

  async start(): Promise<void> {
    // The first model's last: its push receiver finds every other model's store watched from its first message.
    for (const updates of [...this.#updates.values()].reverse()) await updates.start();
    this.#running = true;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#updates.values()].map((u) => u.stop()));
  }
}

export const modelUpdatesPart = definePart({
  name: 'models',
  slice: (config): ModelUpdatesSlice => ({
    models: config.models,
    stateDir: config.state_dir,
    baseTopic: config.mqtt.base_topic,
  }),
  create: (slice, context) => new ModelUpdatesPart(slice, context),
});
