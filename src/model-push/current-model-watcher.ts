/**
 * Tells the daemon when the model store's `current` link changes — whoever changed it: an SSH push
 * (`faceedge model install` in another process), `faceedge model rollback`, or the in-process MQTT
 * receiver. inotify (fs.watch on the store folder) reacts at once; a slow poll covers filesystems
 * where it does not fire. Changes are handled one at a time, newest target wins.
 *
 *   const watcher = new CurrentModelWatcher({ store, onChange: (m) => holder.reload(m.modelPath, m.manifestPath), log });
 *   await watcher.start();  …  watcher.stop();
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readlink } from 'node:fs/promises';
import type { InstalledModel, ModelStore } from './model-store.js';
import { errorLogFields } from '../observability/error-log-fields.js';

export interface CurrentModelWatcherOptions {
  readonly store: ModelStore;
  /** Called with the new current model; a rejection is logged and the next change still comes. */
  readonly onChange: (model: InstalledModel) => Promise<void> | void;
  /** Poll period, ms. Default 5000. */
  readonly pollMs?: number;
  readonly log?: { warn(obj: object, msg: string): void };
}

export class CurrentModelWatcher {
  readonly #o: CurrentModelWatcherOptions;
  #known: string | null = null;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> = Promise.resolve();
  #handled: { target: string; result: Promise<void> } | null = null;

  constructor(options: CurrentModelWatcherOptions) {
    this.#o = options;
  }

  /** Records what is current now (not reported) and starts watching. */
  async start(): Promise<void> {
    await mkdir(this.#o.store.root, { recursive: true });
    this.#known = await this.#target();
    this.#watcher = watch(this.#o.store.root, { persistent: false }, (_event, file) => {
      if (file === null || file === 'current') this.sync().catch(() => undefined);
    });
    this.#watcher.on('error', (err) => this.#o.log?.warn({ err }, 'model store watch failed; polling only'));
    // sync logs a failed reload itself (the previous model keeps serving); a poll has nothing to add.
    this.#timer = setInterval(() => void this.sync().catch(() => undefined), this.#o.pollMs ?? 5000);
    this.#timer.unref();
  }

  /**
   * Checks now and resolves once the current target has been handled, rejecting with `onChange`'s
   * error when its reload failed — whichever trigger (inotify, poll, this call) ran it. So the MQTT
   * receiver can await the daemon's reload (`onInstalled: () => watcher.sync()`) and report a
   * failure. A target is handled once: a model that fails to load is not retried by every poll.
   */
  sync(): Promise<void> {
    const run = this.#running.then(async () => {
      const target = await this.#target();
      // No current model (a rollback past the first install): the same package installed again later
      // must count as a change.
      if (target === null) return void (this.#known = null);
      if (target === this.#known) {
        if (this.#handled?.target === target) await this.#handled.result;
        return;
      }
      const model = await this.#o.store.current();
      if (!model) return;
      this.#known = target;
      const result = (async () => this.#o.onChange(model))();
      this.#handled = { target, result };
      result.catch((err: unknown) =>
        this.#o.log?.warn(
          { ...errorLogFields(err), model: model.name },
          'reloading the new current model failed; the previous one keeps serving',
        ),
      );
      await result;
    });
    this.#running = run.catch(() => undefined);
    return run;
  }

  stop(): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #target(): Promise<string | null> {
    return readlink(this.#o.store.currentLink).catch(() => null);
  }
}
