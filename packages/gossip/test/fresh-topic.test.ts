// When a publish right after createTopic arrives (docs/gossip.md, "When a publish arrives"): a peer whose
// announcement of the topic had not reached the publisher yet is not pushed the entry; it gets it at the
// publisher's next anti-entropy exchange with it, one `antiEntropyIntervalMs` later.
import { fromUtf8, utf8 } from '@icn/identity'
import { expect, it } from 'vitest'
import { simCluster } from './helpers/sim.js'

it('a publish right after createTopic reaches the connected subscriber at the next anti-entropy exchange', async () => {
  const c = await simCluster({ size: 2, seed: 31, init: () => ({ antiEntropyIntervalMs: 2_000 }) })
  await c.network.runFor(100)
  const [publisher, subscriber] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0]]
  const received: string[] = []
  subscriber.createTopic('fresh')
  subscriber.subscribe('fresh', (entry) => { received.push(fromUtf8(entry.payload)) })
  publisher.createTopic('fresh')
  const syncsBefore = publisher.stats().syncsStarted + subscriber.stats().syncsStarted
  const entry = await publisher.publish('fresh', utf8('first'))
  // The links' delay has passed, the announcements have crossed, no anti-entropy exchange has run yet.
  await c.network.runFor(100)
  expect(received).toEqual([])
  expect(publisher.stats().syncsStarted + subscriber.stats().syncsStarted).toBe(syncsBefore)
  // Within one anti-entropy interval (plus the exchange's round trips) it has arrived.
  await c.network.runFor(2_000)
  expect(received).toEqual(['first'])
  expect(subscriber.entries('fresh').map((e) => e.id)).toEqual([entry.id])
  await c.close()
})
