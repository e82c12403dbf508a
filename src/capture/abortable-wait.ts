/**
 * Waiting that a source's stop() can always cut short, so no source lingers on a timer or on a consumer
 * that went away.
 */

/** Resolves true after `ms` milliseconds, or false as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Resolves true when `promise` settles (fulfilled or rejected: a sink's readiness promise carries no
 * value worth failing on), or false as soon as `signal` aborts. A non-promise resolves true at once.
 */
export function settledOrAborted(promise: void | Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (!promise) return Promise.resolve(!signal.aborted);
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve(!signal.aborted);
    };
    promise.then(done, done);
  });
}
