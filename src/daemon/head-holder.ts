/**
 * The owner of one model's head on the face embedding (issue 24 §3): the head that serves can be swapped at run
 * time (a pushed pair, a rollback) while tracks are being embedded. Every run borrows the head through
 * {@link HeadHolder.use}, which counts it as in use until the run settles; a swap changes what later runs get at
 * once (synchronously, so no caller ever sees a half-swapped state) and closes the head it replaced when its
 * last run settles (at once when none is running). Swaps are logged as `head swapped` with ids and file hashes,
 * never an embedding.
 *
 *   const heads = new HeadHolder(head, paths, { model: 'age', log });
 *   const values = await heads.use((h) => h.logProbabilities(embedding));
 *   heads.swap(next, nextPaths);   …   await heads.close();
 */
import type { Logger } from 'pino';
import type { EmbeddingHead } from '../inference/embedding-head.js';
import type { InstalledHead } from '../model-push/head-package.js';
import { errorLogFields } from '../observability/error-log-fields.js';

export interface HeadHolderOptions {
  /** The model's name (`classifiers[].name`), for the log lines. */
  readonly model: string;
  readonly log: Logger;
}

export class HeadHolder {
  #current: EmbeddingHead;
  #paths: InstalledHead;
  readonly #o: HeadHolderOptions;
  /** Runs in progress per head (the current one, and replaced ones not closed yet). */
  readonly #users = new Map<EmbeddingHead, number>();
  /** Closes of replaced heads in progress (awaited by close()). */
  readonly #closing = new Set<Promise<void>>();

  constructor(head: EmbeddingHead, paths: InstalledHead, options: HeadHolderOptions) {
    this.#current = head;
    this.#paths = paths;
    this.#o = options;
  }

  /** The head later runs get (for its manifest: pairing, labels, embedder pin). */
  get current(): EmbeddingHead {
    return this.#current;
  }

  /** Where the current head was loaded from (its `.tflite` and manifest). */
  get paths(): InstalledHead {
    return this.#paths;
  }

  /** Runs `fn` on the current head; a swap meanwhile does not close it until `fn` has settled. */
  async use<T>(fn: (head: EmbeddingHead) => Promise<T>): Promise<T> {
    const head = this.#current;
    this.#users.set(head, (this.#users.get(head) ?? 0) + 1);
    try {
      return await fn(head);
    } finally {
      const left = (this.#users.get(head) ?? 1) - 1;
      if (left > 0) this.#users.set(head, left);
      else {
        this.#users.delete(head);
        if (head !== this.#current) this.#retire(head);
      }
    }
  }

  /**
   * Makes `next` the head later runs get, and closes the one it replaces once its runs settle. The caller
   * checked `next` (labels, embedder pin, self-test) before: a swap itself cannot fail.
   */
  swap(next: EmbeddingHead, paths: InstalledHead): void {
    const previous = this.#current;
    if (next === previous) return;
    this.#current = next;
    this.#paths = paths;
    this.#o.log.info(
      {
        model: this.#o.model,
        from: { id: previous.id, sha256: previous.sha256.slice(0, 12) },
        to: { id: next.id, sha256: next.sha256.slice(0, 12) },
        running: this.#users.get(previous) ?? 0,
      },
      'head swapped',
    );
    if (!this.#users.has(previous)) this.#retire(previous);
  }

  /** Closes the current head, after every replaced head has closed (call once nothing runs any more). */
  async close(): Promise<void> {
    await Promise.all(this.#closing);
    await this.#current.close();
  }

  #retire(head: EmbeddingHead): void {
    const closing = head
      .close()
      .catch((err: unknown) =>
        this.#o.log.warn({ ...errorLogFields(err), model: this.#o.model }, 'closing a head failed'),
      )
      .finally(() => this.#closing.delete(closing));
    this.#closing.add(closing);
  }
}
