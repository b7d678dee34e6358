// Shared vitest settings. Layer tests follow the naming convention
// test/layer<N>.*.test.ts so one layer can be run across every package. Each run also writes
// test-results/vitest.json, from which scripts/test-table.mjs prints the package × layer table.
import { defineConfig } from 'vitest/config'

/** @param {{ testTimeout?: number }} [options] */
export function icnVitest (options = {}) {
  const layer = process.env.ICN_LAYER
  return defineConfig({
    test: {
      include: layer ? [`test/layer${layer}.*.test.ts`] : ['test/**/*.test.ts'],
      exclude: ['**/node_modules/**', '**/dist/**'],
      testTimeout: options.testTimeout ?? 60_000,
      hookTimeout: 60_000,
      pool: 'forks',
      reporters: ['default', 'json'],
      outputFile: { json: 'test-results/vitest.json' },
      passWithNoTests: Boolean(layer),
      benchmark: { include: ['bench/**/*.bench.ts'] }
    }
  })
}
