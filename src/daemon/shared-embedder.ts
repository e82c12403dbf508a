/**
 * The board's one face embedder (`services.embedder`, with `recognition.enabled`), shared by the recognition
 * part (every confirmed track) and the board's gallery (enrolment photos), so the model sits in memory once and
 * enrolled and probed embeddings come from the very same interpreter settings. Loaded on first use: the
 * recognition part asks for it at start; a failed load is retried by the next caller.
 */
import { FaceEmbedder } from '../inference/face-embedder.js';

export class SharedEmbedder {
  readonly #modelPath: string;
  readonly #threads: number | undefined;
  #loading: Promise<FaceEmbedder> | null = null;

  constructor(modelPath: string, threads?: number) {
    this.#modelPath = modelPath;
    this.#threads = threads;
  }

  get(): Promise<FaceEmbedder> {
    this.#loading ??= FaceEmbedder.create({ modelPath: this.#modelPath, threads: this.#threads }).catch(
      (err: unknown) => {
        this.#loading = null;
        throw err;
      },
    );
    return this.#loading;
  }

  async close(): Promise<void> {
    const loading = this.#loading;
    this.#loading = null;
    if (loading) await (await loading.catch(() => null))?.close();
  }
}
