import { icnTsup } from '@icn/tooling/tsup'

// node.ts, preflight.ts, join.ts and check.ts are their own entries: the CLI imports them lazily (only `run` and `demo` need the subsystems).
export default icnTsup({ entry: ['src/index.ts', 'src/cli.ts', 'src/node.ts', 'src/preflight.ts', 'src/demo.ts', 'src/join.ts', 'src/check.ts'] })
