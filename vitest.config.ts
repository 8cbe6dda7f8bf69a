import { defineConfig } from 'vitest/config';

import { sourceResolution } from './vitest.shared.js';

export default defineConfig({
  ...sourceResolution,
  test: {
    projects: ['packages/*', 'test'],
    globalSetup: ['./test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Servers under test share two cores with the runner: a test file at a
    // time per core keeps timing-sensitive protocol tests (health probes,
    // ACME polling) honest without slowing the suite much.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
