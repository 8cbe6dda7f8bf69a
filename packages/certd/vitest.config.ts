import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'certd', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
