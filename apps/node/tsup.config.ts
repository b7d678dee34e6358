import { icnTsup } from '@icn/tooling/tsup'

// node.ts is its own entry: the CLI imports it lazily (only `run` and `demo` need the subsystems).
export default icnTsup({ entry: ['src/index.ts', 'src/cli.ts', 'src/node.ts', 'src/demo.ts'] })
