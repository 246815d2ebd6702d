import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Files run in parallel: each builds its own world (a fresh SQLite file or MySQL database).
    fileParallelism: true,
  },
});
