// Anti-entropy backs off while nothing changes: idle work is proportional to what changed, not a fixed
// tax per node. Each quiet tick doubles the period up to antiEntropyMaxIntervalMs; a publish or an
// accepted entry brings the base period back at once.
import { fromUtf8, utf8 } from '@icn/identity'
import { expect, it } from 'vitest'
import { simCluster } from './helpers/sim.js'

it('spaces exchanges out to antiEntropyMaxIntervalMs while idle and returns to the base period on a publish', async () => {
  const c = await simCluster({ size: 2, seed: 41, init: () => ({ antiEntropyIntervalMs: 2_000, antiEntropyMaxIntervalMs: 30_000 }) })
  const [a, b] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0]]
  const received: string[] = []
  for (const n of [a, b]) n.createTopic('t')
  b.subscribe('t', (entry) => { received.push(fromUtf8(entry.payload)) })
  await c.network.runFor(100)
  await a.publish('t', utf8('one'))
  await c.network.runFor(2_000)
  expect(received).toEqual(['one'])
  // Quiet from here: periods 2, 4, 8, 16 s, then 30 s. After two quiet minutes each node ticks every 30 s.
  await c.network.runFor(120_000)
  const before = [a.stats().syncsStarted, b.stats().syncsStarted]
  await c.network.runFor(300_000)
  // A tick exchanges every shared topic: 10 ticks in 300 s, where a fixed 2 s period made 150.
  const shared = a.topics().length
  expect(shared).toBe(b.topics().length)
  expect([a.stats().syncsStarted - before[0]!, b.stats().syncsStarted - before[1]!]).toEqual([10 * shared, 10 * shared])
  // A publish: the publisher's next exchange is one base period away, not up to 30 s.
  const atPublish = a.stats().syncsStarted
  await a.publish('t', utf8('two'))
  await c.network.runFor(2_050)
  expect(a.stats().syncsStarted - atPublish).toBe(shared)
  expect(received).toEqual(['one', 'two'])
  await c.close()
})
