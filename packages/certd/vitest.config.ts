import { defineProject } from 'vitest/config';

export default defineProject({
  // Each test runs a real Pebble and real origins on two shared cores: allow time, assert no durations.
  test: {
    name: 'certd',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
