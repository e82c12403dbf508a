/**
 * The access log on the board: one JSON line per lock decision (src/rules/access-decision.ts) in
 * `<state_dir>/access.log`, mode 0600 (it names people), rotated by size (`access.log` → `access.log.1` → …)
 * keeping `files` files, so it can never fill the board's storage. Writes are serialized in call order; a write
 * that fails is logged and the next one tries again (a full disk must not stop the lock from locking).
 */
import { appendFile, chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../observability/logger.js';
import type { AccessRecord } from './access-decision.js';
import type { AccessLogConfig } from './access-schema.js';

/** Mode of the access log and its rotated files: owner read/write only. */
export const ACCESS_LOG_MODE = 0o600;

export class AccessLog {
  readonly #file: string;
  readonly #config: AccessLogConfig;
  readonly #log: Logger;
  #chain: Promise<void> = Promise.resolve();
  /** Bytes in the current file; null until it was looked at. */
  #size: number | null = null;
  #failures = 0;

  /**
   * @param file the access log (`<state_dir>/access.log`); its folder is made if missing.
   * @param config `access.log`: `max_bytes` per file, `files` kept.
   */
  constructor(file: string, config: AccessLogConfig, log: Logger) {
    this.#file = file;
    this.#config = config;
    this.#log = log;
  }

  /** Writes that failed so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Appends one record (after every earlier one). Resolves when written; never rejects (a failure is logged). */
  write(record: AccessRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    this.#chain = this.#chain.then(() =>
      this.#append(line).catch((err: unknown) => {
        this.#failures++;
        this.#size = null;
        this.#log.error({ file: this.#file, err: (err as Error).message }, 'access log entry not written');
      }),
    );
    return this.#chain;
  }

  /** Resolves once every write asked for so far is done. */
  flush(): Promise<void> {
    return this.#chain;
  }

  async #append(line: string): Promise<void> {
    const bytes = Buffer.byteLength(line);
    if (this.#size === null) {
      await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
      this.#size = await stat(this.#file).then(
        (s) => s.size,
        () => 0,
      );
      // A file left by an older version or a hand-made one: it names people, so it is the owner's only.
      if (this.#size > 0) await chmod(this.#file, ACCESS_LOG_MODE);
    }
    if (this.#size > 0 && this.#size + bytes > this.#config.max_bytes) {
      await this.#rotate();
      this.#size = 0;
    }
    await appendFile(this.#file, line, { mode: ACCESS_LOG_MODE });
    this.#size += bytes;
  }

  /** `access.log.<n-2>` → `.<n-1>` … `access.log` → `.1`; the oldest is deleted. */
  async #rotate(): Promise<void> {
    const name = (i: number) => (i === 0 ? this.#file : `${this.#file}.${i}`);
    const keep = this.#config.files;
    await rm(name(keep - 1), { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      await rename(name(i - 1), name(i)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
  }
}
