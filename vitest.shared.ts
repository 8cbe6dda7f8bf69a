/**
 * Settings every vitest project shares. Workspace packages resolve to their
 * TypeScript sources (the `source` export condition), so a test never runs
 * against a stale dist/; tests that spawn the `owncdn` program use dist/,
 * which the global setup builds first.
 */
export const sourceResolution = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
};
