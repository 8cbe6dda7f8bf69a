import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'origin',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Some tests spawn `owncdn` or cluster workers (a fresh node each) on two busy cores.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
