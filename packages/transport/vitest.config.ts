import { icnVitest } from '@icn/tooling/vitest'

export default icnVitest()
