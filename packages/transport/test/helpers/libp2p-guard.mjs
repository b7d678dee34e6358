// Helper peers are libp2p processes too: they tolerate the one libp2p race `icn-node run` tolerates
// (a muxer writing to a stream whose connection the node has just closed, see `isClosedStreamRace`),
// so a test fails on the node's behaviour, not on a helper dying right after it was cut off.
import { isClosedStreamRace } from '../../dist/index.js'

process.on('uncaughtException', (err) => {
  if (isClosedStreamRace(err)) return
  process.stderr.write(`${err?.stack ?? String(err)}\n`)
  process.exit(1)
})
