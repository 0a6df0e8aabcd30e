import { defineConfig } from 'vitest/config';

export default defineConfig({
  // One graphql instance, as under Node: Vite would take its ESM build for our sources while Apollo
  // and graphql-tools load the CommonJS one, and graphql refuses types from "another realm".
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    // Each file gets its own database schema and queue prefix, so files run in parallel.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { LOG_LEVEL: 'silent' },
  },
});
