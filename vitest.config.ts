import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // MySQL suites share one database; files run one at a time against it.
    fileParallelism: true,
  },
});
