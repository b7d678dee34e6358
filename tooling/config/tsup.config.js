// Shared tsup settings: ESM only, typed, one entry per public subpath.
import { defineConfig } from 'tsup'

/** @param {{ entry?: string[] | Record<string, string> }} [options] */
export function icnTsup (options = {}) {
  return defineConfig({
    entry: options.entry ?? ['src/index.ts'],
    format: ['esm'],
    target: 'node20',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true
  })
}
