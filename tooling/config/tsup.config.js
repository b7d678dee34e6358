// Shared tsup settings: ESM only (require() loads it on Node with require(esm)), typed, one entry
// per public subpath, plus an optional browser build with stand-ins for Node built-ins.
import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig } from 'tsup'

/**
 * Swaps module specifiers for other files in a build (the browser build's stand-ins
 * for Node built-ins). Keys are exact specifiers; values are paths from the package root.
 * @param {Record<string, string>} replace
 * @returns {import('esbuild').Plugin}
 */
function replaceModules (replace) {
  const names = Object.keys(replace)
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`)
  return {
    name: 'icn-replace-modules',
    setup (build) {
      build.onResolve({ filter }, (args) => ({ path: resolve(replace[args.path]) }))
    }
  }
}

/**
 * @param {{
 *   entry?: string[] | Record<string, string>,
 *   browser?: { entry: string, replace?: Record<string, string>, inject?: string[] }
 * }} [options]
 */
export function icnTsup (options = {}) {
  // Cleaned once here, before the builds below run side by side into the same folder.
  rmSync('dist', { recursive: true, force: true })
  const common = { format: ['esm'], dts: true, sourcemap: true, clean: false, splitting: false, treeshake: true }
  const node = {
    ...common,
    entry: options.entry ?? ['src/index.ts'],
    target: 'node20',
    platform: 'node'
  }
  if (options.browser === undefined) return defineConfig(node)
  const browser = {
    ...common,
    entry: { browser: options.browser.entry },
    target: 'es2022',
    platform: 'browser',
    inject: options.browser.inject ?? [],
    // Keep `node:` on specifiers and let the replaced ones past tsup's externals, so the plugin sees them.
    removeNodeProtocol: false,
    noExternal: Object.keys(options.browser.replace ?? {}),
    esbuildPlugins: options.browser.replace ? [replaceModules(options.browser.replace)] : []
  }
  return defineConfig([node, browser])
}
