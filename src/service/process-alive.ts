/** Whether a process exists, by pid (signal 0 delivers nothing, it only checks). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user (the daemon's lock seen by an admin's CLI).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
