import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['runtime/**/*.test.ts', 'sim/**/*.test.ts', 'scripts/**/*.test.ts'],
    // Integration tests open pseudo-terminals and brokers; keep them from starving each other on 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
