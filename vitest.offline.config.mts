// The specs that need no PostgreSQL at all (option validation): no global set-up, so nothing is
// started and nothing needs to listen. `npx vitest run --config vitest.offline.config.mts`.
// The main configuration runs them too.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['__test__/offline/**/*.spec.ts'],
  },
})
