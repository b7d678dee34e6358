// @icn/trust: signed attestations in a trust graph; direct and transitive scores.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed } from '@icn/identity'
import { createAttestation, openTrustGraph } from '@icn/trust'

const [alice, bob, carol] = [1, 2, 3].map((n) => keyPairFromSeed(new Uint8Array(32).fill(n))) as [
  ReturnType<typeof keyPairFromSeed>, ReturnType<typeof keyPairFromSeed>, ReturnType<typeof keyPairFromSeed>
]
const dir = mkdtempSync(join(tmpdir(), 'icn-trust-'))
const now = Date.now()
const graph = await openTrustGraph({}, { path: dir })
try {
  console.log('alice → bob:', await graph.attest(createAttestation(alice, { target: bob.did, graph: 'economic', score: 0.9, createdAt: now })))
  await graph.attest(createAttestation(bob, { target: carol.did, graph: 'economic', score: 0.8, createdAt: now }))
  console.log('alice trusts bob:', graph.trustOf(alice.did, bob.did, 'economic').toFixed(3))
  console.log('alice trusts carol (through bob):', graph.trustOf(alice.did, carol.did, 'economic').toFixed(3))
  console.log('carol class for alice:', graph.classOf(alice.did, carol.did, 'economic'))
  console.log('social graph is separate:', graph.trustOf(alice.did, bob.did, 'social'))
} finally {
  await graph.close()
  rmSync(dir, { recursive: true, force: true })
}
