import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Native addons are safest in child processes (not worker threads shared with vitest).
    pool: 'forks',
    // Lets a test collect garbage on demand (a forgotten pooled connection must come back).
    execArgv: ['--expose-gc'],
    include: ['__test__/**/*.spec.ts'],
    globalSetup: ['__test__/global-setup.mjs'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
