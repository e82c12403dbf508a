/**
 * What the daemon has told subscribers about its tracks, kept on disk so that the next run can keep
 * the event stream true after a crash (SIGKILL, power loss, OOM):
 * - every track that got `new` but no `end` gets its `end` at the next start, with `reason: "restart"`
 *   and the last snapshot published, `end_time` being when that snapshot was published (the last
 *   moment the crashed run is known to have seen the face);
 * - track numbers continue after the highest one ever published per camera, so a new run's
 *   `door-8` can never be confused with the crashed run's `door-8` whose events are replayed from the
 *   outbox.
 *
 * The file (`<state_dir>/tracks.json`) is small (one snapshot per open track) and rewritten atomically
 * (temporary file + rename) before each event enters the outbox, so whatever reached the outbox is
 * known here. One owner: the daemon's event sink, on the event loop; no await between read and write.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { TrackEvent, TrackSnapshot } from './track-event.js';

interface CameraRecord {
  /** Highest track number published on this camera, in any run. */
  last_number: number;
  /** Tracks with `new` (or `update`) published and no `end`: last snapshot and when it was published (s). */
  open: Record<string, { snapshot: TrackSnapshot; published_at: number }>;
}

interface JournalFile {
  version: 1;
  cameras: Record<string, CameraRecord>;
}

/** The number in a track id `<camera>-<n>`; null when the id has another shape. */
export function trackNumber(camera: string, id: string): number | null {
  if (!id.startsWith(`${camera}-`)) return null;
  const n = Number(id.slice(camera.length + 1));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export class TrackJournal {
  readonly #file: string;
  #data: JournalFile;
  readonly #log: Logger;
  /** Set when the file cannot be written: logged once, then the daemon carries on without it. */
  #writeFailed = false;

  private constructor(file: string, data: JournalFile, log: Logger) {
    this.#file = file;
    this.#data = data;
    this.#log = log;
  }

  /**
   * Reads the journal at `file` (absent: empty). An unreadable or corrupt file is logged and replaced:
   * the daemon must start, and only the restart `end`s of that crash are lost.
   */
  static open(file: string, log: Logger): TrackJournal {
    let data: JournalFile = { version: 1, cameras: {} };
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as JournalFile;
      if (parsed?.version !== 1 || typeof parsed.cameras !== 'object' || parsed.cameras === null)
        throw new Error('not a version 1 track journal');
      data = parsed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.warn(
          { file, err: (err as Error).message },
          'track journal unreadable: tracks open at the last stop get no end event, and track numbers start again at 1',
        );
      }
    }
    return new TrackJournal(file, data, log);
  }

  /** The first track number for `camera` in this run (one past the highest ever published). */
  firstNumber(camera: string): number {
    return (this.#data.cameras[camera]?.last_number ?? 0) + 1;
  }

  /**
   * `end` events (reason `restart`) for every track the previous run left open, oldest first, and
   * forgets them. Call once at start, before any camera runs, and publish what it returns.
   */
  takeLeftovers(): TrackEvent[] {
    const events: TrackEvent[] = [];
    for (const record of Object.values(this.#data.cameras)) {
      for (const { snapshot, published_at } of Object.values(record.open)) {
        events.push({
          type: 'end',
          before: snapshot,
          after: { ...snapshot, end_time: published_at },
          reason: 'restart',
        });
      }
      record.open = {};
    }
    events.sort((a, b) => a.after.start_time - b.after.start_time);
    if (events.length > 0) this.#save();
    return events;
  }

  /** Notes a published event: its track is open after `new`/`update`, closed after `end`. */
  record(event: TrackEvent, nowSeconds = Date.now() / 1000): void {
    const { camera, id } = event.after;
    const record = (this.#data.cameras[camera] ??= { last_number: 0, open: {} });
    const n = trackNumber(camera, id);
    if (n !== null && n > record.last_number) record.last_number = n;
    if (event.type === 'end') delete record.open[id];
    else record.open[id] = { snapshot: event.after, published_at: nowSeconds };
    this.#save();
  }

  #save(): void {
    const tmp = `${this.#file}.tmp`;
    try {
      mkdirSync(dirname(this.#file), { recursive: true });
      writeFileSync(tmp, JSON.stringify(this.#data));
      renameSync(tmp, this.#file);
      this.#writeFailed = false;
    } catch (err) {
      if (!this.#writeFailed)
        this.#log.error(
          { file: this.#file, err: (err as Error).message },
          'cannot write the track journal; events still flow',
        );
      this.#writeFailed = true;
    }
  }
}
