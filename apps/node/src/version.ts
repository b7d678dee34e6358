import { readFileSync } from 'node:fs'

/** This package's version (`icn-node --version`, `icn_node_info`), read from the package.json beside src/ and dist/. */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
