import { defineConfig } from 'vitest/config';

// `npm run test:arm64` (test/arm64/arm64-parity.test.ts): the arm64 build under QEMU against the x86-64
// one. Kept out of `npm run test:ts` because it installs a second node_modules and runs for minutes.
export default defineConfig({
  test: {
    include: ['test/arm64/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
