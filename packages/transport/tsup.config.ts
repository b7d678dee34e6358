import { icnTsup } from '@icn/tooling/tsup'

export default icnTsup()
