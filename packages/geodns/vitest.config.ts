import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'geodns', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
