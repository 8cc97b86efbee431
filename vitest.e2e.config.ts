import { defineConfig } from 'vitest/config';

// End-to-end tests that run real VMs through the built binary (scripts/test.sh runs them).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 120_000,
    fileParallelism: false,
  },
});
