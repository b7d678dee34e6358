// The transport package's guard (tolerates libp2p's closed-stream race, see `isClosedStreamRace`).
import '../../../../packages/transport/test/helpers/libp2p-guard.mjs'
