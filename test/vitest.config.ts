import { defineProject } from 'vitest/config';
import { sourceResolution } from '../vitest.shared.js';

export default defineProject({
  ...sourceResolution,
  test: { name: 'e2e', include: ['**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000 },
});
