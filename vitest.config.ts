import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native TFLite interpreters and child processes: keep files in separate processes.
    pool: 'forks',
  },
});
