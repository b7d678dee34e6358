// Stands in for `@icn/identity/fs` in the browser build: a browser node keeps its gossip state in memory.
export { CorruptFileError } from '@icn/identity'

function needsNode (): never {
  throw new Error('@icn/gossip persists to a file only on Node; leave `path` unset in browsers')
}

export async function readJsonSnapshot (_path: string): Promise<never> { needsNode() }
export async function writeJsonSnapshot (_path: string, _data: unknown): Promise<never> { needsNode() }
