import { icnTsup } from '@icn/tooling/tsup'

// node.ts, commands.ts, preflight.ts, join.ts and check.ts are their own entries: the CLI imports them lazily (client commands load only cli.js).
export default icnTsup({ entry: ['src/index.ts', 'src/cli.ts', 'src/commands.ts', 'src/node.ts', 'src/preflight.ts', 'src/demo.ts', 'src/join.ts', 'src/check.ts'] })
