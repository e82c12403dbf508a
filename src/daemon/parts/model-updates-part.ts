/**
 * New models reaching the running board, as a part: the model store watched for `faceedge model install` /
 * `rollback` from a shell (SSH pushes), the MQTT push receiver (src/daemon/model-updates.ts), and the bridge
 * commands `model/reload` (a named package verified like an install, src/daemon/model-reload-request.ts) and
 * `model/rollback` (src/daemon/model-rollback-command.ts). Every path swaps the serving classifier through
 * the one holder, one swap at a time; a model that fails to load leaves the old one serving.
 */
import { FaceedgeError } from '../../errors.js';
import { componentLogger } from '../../observability/logger.js';
import type { BridgeCommandSpec } from '../../mqtt/bridge-dispatcher.js';
import { definePart, type DaemonPart, type PartContext } from '../daemon-part.js';
import { parseModelReloadRequest } from '../model-reload-request.js';
import { modelRollbackHandler } from '../model-rollback-command.js';
import { ModelUpdates, type ModelUpdatesOptions } from '../model-updates.js';

interface ModelUpdatesSlice {
  readonly models: ModelUpdatesOptions['models'];
  readonly stateDir: string;
  readonly baseTopic: string;
  /** `classifier.model` / `classifier.manifest`: what serves again when the store's only model is rolled back. */
  readonly configured: { readonly model: string; readonly manifest?: string };
}

class ModelUpdatesPart implements DaemonPart {
  readonly commands: Readonly<Record<string, BridgeCommandSpec>>;
  readonly #updates: ModelUpdates;
  /** Set once the store is watched and the receiver attached; requests before that are refused. */
  #running = false;

  constructor(slice: ModelUpdatesSlice, { services, log }: PartContext) {
    const { classifier } = services;
    this.#updates = new ModelUpdates({
      models: slice.models,
      stateDir: slice.stateDir,
      mqtt: services.mqtt,
      baseTopic: slice.baseTopic,
      deviceId: services.deviceId,
      reload: async (m) => void (await classifier.reload(m.modelPath, m.manifestPath)),
      log: componentLogger(log, 'models'),
      audit: services.audit,
    });
    this.commands = {
      // Payload and checks: model-reload-request.ts (a named model is verified like an install).
      'model/reload': {
        run: async (params) => {
          const target = parseModelReloadRequest(params);
          if (!this.#running) throw new FaceedgeError('REQUEST_INVALID', 'model/reload: the daemon is still starting');
          await this.#updates.verifyReload(target);
          const next = await classifier.reload(target.modelPath, target.manifestPath);
          return { id: next.id, path: next.modelPath, sha256: next.sha256, delegate: next.delegate };
        },
        describe: (_params, result) => {
          const served = result as { id: string; path: string; sha256: string };
          return { target: served.path, detail: { id: served.id, sha256: served.sha256 } };
        },
      },
      'model/rollback': {
        run: modelRollbackHandler({
          updates: () => (this.#running ? this.#updates : null),
          serving: () => ({ id: classifier.current.id, sha256: classifier.current.sha256 }),
          serveConfigured: async () =>
            void (await classifier.reload(slice.configured.model, slice.configured.manifest)),
        }),
        describe: (_params, result) => ({ target: 'serving model', detail: result as Record<string, unknown> }),
      },
    };
  }

  async start(): Promise<void> {
    await this.#updates.start();
    this.#running = true;
  }

  stop(): Promise<void> {
    return this.#updates.stop();
  }
}

export const modelUpdatesPart = definePart({
  name: 'models',
  slice: (config): ModelUpdatesSlice => ({
    models: config.models,
    stateDir: config.state_dir,
    baseTopic: config.mqtt.base_topic,
    configured: { model: config.classifier.model, manifest: config.classifier.manifest },
  }),
  create: (slice, context) => new ModelUpdatesPart(slice, context),
});
