import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The arm64 parity test has its own run (vitest.arm64.config.ts, npm run test:arm64).
    exclude: [...configDefaults.exclude, 'test/arm64/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native TFLite interpreters and child processes: keep files in separate processes.
    pool: 'forks',
  },
});
