import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources (the `source` export
// condition), so tests never run against a stale dist/. Tests that spawn the
// `owncdn` program use dist/, which the global setup builds first.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
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
