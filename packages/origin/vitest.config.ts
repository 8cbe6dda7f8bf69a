import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'origin', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
