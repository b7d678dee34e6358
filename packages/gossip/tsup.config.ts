import { icnTsup } from '@icn/tooling/tsup'

export default icnTsup({
  browser: {
    entry: 'src/index.ts',
    replace: { 'node:zlib': 'src/browser/zlib.ts', '@icn/identity/fs': 'src/browser/no-fs.ts' },
    inject: ['src/browser/immediate.ts']
  }
})
