/**
 * Starting a source with a deadline and a way out, so one camera whose start hangs (a device that never
 * answers, a file system that stalls) holds neither the other cameras nor the daemon's shutdown.
 */
import { FaceedgeError } from '../errors.js';
import { sleep } from './abortable-wait.js';
import type { FrameSource } from './frame-source.js';

/** How long a source may take to start before it counts as failed, ms: 30 s (a GIF of minutes on a Pi). */
export const DEFAULT_SOURCE_START_TIMEOUT_MS = 30_000;

/** How {@link startWithin} ended. */
export type BoundedStartOutcome = 'started' | 'aborted';

/**
 * Starts `source` and resolves `started` once it runs, or `aborted` as soon as `signal` aborts (the
 * caller is stopping; the source's start is aborted too). Past `timeoutMs` the source is stopped and the
 * start fails; whatever its own start still does later is ignored. Listeners on `signal` last only as
 * long as the start: a camera paused and resumed by a rule thousands of times adds none for good.
 * @throws the source's own start error, or FaceedgeError `SOURCE_FAILED` after `timeoutMs`.
 */
export async function startWithin(
  source: FrameSource,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<BoundedStartOutcome> {
  if (signal.aborted) return 'aborted';
  // Given to the source: aborted when the caller stops during the start, or at the deadline.
  const start = new AbortController();
  // Ends the deadline's timer, whoever wins.
  const timer = new AbortController();
  const onAbort = () => {
    start.abort();
    timer.abort();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const started = source.start(start.signal).then(() => 'started' as const);
  // Settled either way below; a late rejection of a start that was given up on must not go unhandled.
  started.catch(() => undefined);
  try {
    const first = await Promise.race([
      started,
      sleep(timeoutMs, timer.signal).then((elapsed) => (elapsed ? ('timeout' as const) : ('aborted' as const))),
    ]);
    if (first === 'timeout') {
      start.abort();
      void source.stop().catch(() => undefined);
      throw new FaceedgeError('SOURCE_FAILED', `${source.name} did not start within ${timeoutMs / 1000} s`, {
        hint: 'Check that the camera or file answers (a device that hangs, a stalled network file system).',
      });
    }
    return first;
  } finally {
    signal.removeEventListener('abort', onAbort);
    timer.abort();
  }
}
