import { writeFile } from 'node:fs/promises'
import type { Options } from 'tsup'
import { icnTsup } from '@icn/tooling/tsup'

// The ES module entries, built as .mjs (their declarations stay .d.ts: tsup's declaration build ignores outExtension).
// node.ts, commands.ts, preflight.ts, join.ts, check.ts and demo.ts are their own entries: the CLI imports them on
// use, so a client command loads cli.js alone.
const library: Options = {
  ...icnTsup({ entry: ['src/index.ts', 'src/commands.ts', 'src/node.ts', 'src/preflight.ts', 'src/demo.ts', 'src/join.ts', 'src/check.ts'] }) as Options,
  outExtension: () => ({ js: '.mjs' })
}

// cli.js is one CommonJS file with commander inside (dist/package.json says so): a client command then starts no ES
// module loader and resolves no package (together ~30 ms of CPU per command on Node 20, docs/node.md).
const cli: Options = {
  ...library,
  entry: ['src/cli.ts'],
  format: ['cjs'],
  outExtension: () => ({ js: '.js' }),
  dts: false,
  shims: true,
  noExternal: ['commander'],
  onSuccess: async () => { await writeFile('dist/package.json', '{ "type": "commonjs" }\n') }
}

export default [library, cli]
