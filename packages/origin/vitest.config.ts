import { defineProject } from 'vitest/config';
import { sourceResolution } from '../../vitest.shared.js';

export default defineProject({
  ...sourceResolution,
  test: {
    name: 'origin',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Some tests spawn `owncdn` or cluster workers (a fresh node each) on two busy cores.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
