import { defineProject } from 'vitest/config';

export default defineProject({
  // Servers and dig processes share two busy cores: generous per-test limits, no timing assertions.
  test: {
    name: 'geodns',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
