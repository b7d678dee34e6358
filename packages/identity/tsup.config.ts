import { icnTsup } from '@icn/tooling/tsup'

export default icnTsup({
  entry: ['src/index.ts', 'src/fs.ts'],
  browser: { entry: 'src/portable.ts', replace: { './backend-node.js': 'src/browser/backend-node.ts' } }
})
