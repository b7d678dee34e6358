import { icnTsup } from '@icn/tooling/tsup'

export default icnTsup({ entry: ['src/index.ts', 'src/cli.ts'] })
