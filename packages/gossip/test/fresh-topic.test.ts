// A publish on a topic both nodes have just created reaches the connected subscriber within the
// round trips of the topic announcement, not at the next anti-entropy tick (disabled here).
import { fromUtf8, utf8 } from '@icn/identity'
import { expect, it } from 'vitest'
import { simCluster } from './helpers/sim.js'

it('a publish right after createTopic reaches the connected subscriber without anti-entropy ticks', async () => {
  const c = await simCluster({ size: 2, seed: 31, init: () => ({ antiEntropyIntervalMs: 1e9 }) })
  await c.network.runFor(100)
  const [publisher, subscriber] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0]]
  const received: string[] = []
  subscriber.createTopic('fresh')
  subscriber.subscribe('fresh', (entry) => { received.push(fromUtf8(entry.payload)) })
  publisher.createTopic('fresh')
  const entry = await publisher.publish('fresh', utf8('first'))
  // 100 ms of simulated time: the links' delay, far below the anti-entropy interval.
  await c.network.runFor(100)
  expect(received).toEqual(['first'])
  expect(subscriber.entries('fresh').map((e) => e.id)).toEqual([entry.id])
  expect(publisher.stats().syncsStarted).toBeGreaterThanOrEqual(1)
  await c.close()
})
