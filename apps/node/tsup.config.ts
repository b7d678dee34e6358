import type { Options } from 'tsup'
import { icnTsup } from '@icn/tooling/tsup'

// node.ts, commands.ts, preflight.ts, join.ts and check.ts are their own entries: the CLI imports them lazily (client commands load only cli.js).
const library = icnTsup({ entry: ['src/index.ts', 'src/commands.ts', 'src/node.ts', 'src/preflight.ts', 'src/demo.ts', 'src/join.ts', 'src/check.ts'] }) as Options

// cli.js carries commander inside it: a client command then reads one file instead of resolving a package and
// loading its CommonJS files through the ES module loader (~20 ms of CPU per command, docs/node.md). Commander's
// require() of Node built-ins needs a `require` in an ES module, hence the banner.
const cli: Options = {
  ...library,
  entry: ['src/cli.ts'],
  dts: false,
  noExternal: ['commander'],
  banner: { js: 'import { createRequire as __icnCreateRequire } from \'node:module\'; const require = __icnCreateRequire(import.meta.url);' }
}

export default [library, cli]
