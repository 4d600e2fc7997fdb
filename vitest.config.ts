import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The tests mostly wait on servers and child processes, so three files at once keep two cores busy
    // (vitest's default on two cores is one).
    maxWorkers: 3,
  },
});
