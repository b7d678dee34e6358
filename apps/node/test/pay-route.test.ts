import { keyPairFromSeed } from '@icn/identity'
import { type Ledger, openLedger } from '@icn/ledger'
import { withTempDir } from '@icn/testkit'
import { join } from 'node:path'
import { type Logger, pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { Gossip } from '@icn/gossip'
import type { ApiRoute } from '../src/api.js'
import { bridgeLedger } from '../src/bridges.js'
import { NotAMemberError, SelfPaymentError } from '../src/errors.js'
import type { NodeServices } from '../src/node.js'
import { nodeRoutes } from '../src/routes.js'

const payer = keyPairFromSeed(new Uint8Array(32).fill(31))
const payee = keyPairFromSeed(new Uint8Array(32).fill(32))
const stranger = keyPairFromSeed(new Uint8Array(32).fill(33))
/** The cooperative of these tests: the payer and the payee. */
const membership = { isMember: (did: string) => did === payer.did || did === payee.did }
const governance = { charter: () => ({ domain: 'coop:pay' }), membershipAt: () => 'none' }

/**
 * The node's `POST /pay` route over a real ledger and its real ledger bridge, on a gossip fake whose
 * `publish` is `publishLedgerEntry`, and fakes of the other services it reads.
 */
function payRoute (dir: string, ledger: Ledger, logger: Logger, publishLedgerEntry: (entry: Uint8Array) => Promise<void>): ApiRoute | undefined {
  const gossip = { setValidator: () => {}, subscribe: () => () => {}, publish: async (_topic: string, payload: Uint8Array) => { await publishLedgerEntry(payload) } } as unknown as Gossip
  const bridge = bridgeLedger(gossip, ledger, logger)
  const services = { keyPair: payer, ledger, membership, governance, clock: { now: () => Date.now() }, logger, dataDir: dir, commitLedgerEntry: bridge.commitLocal } as unknown as NodeServices
  return nodeRoutes(services, () => { throw new Error('status is not used') }).find((r) => r.method === 'POST' && r.path === '/pay')
}

describe('POST /pay', () => {
  it('answers at the durable commit: a publish that fails is logged, never answered as an error of a committed payment', async () => {
    await withTempDir(async (dir) => {
      const ledger = await openLedger({ path: join(dir, 'ledger') })
      try {
        let logged: (line: Record<string, unknown>) => void = () => {}
        const warning = new Promise<Record<string, unknown>>((resolve) => { logged = resolve })
        const logger = pino({ level: 'warn', base: {} }, { write: (line: string) => { logged(JSON.parse(line) as Record<string, unknown>) } })
        const published: Uint8Array[] = []
        const pay = payRoute(dir, ledger, logger, async (entry) => { published.push(entry); throw new Error('gossip is not running') })
        const answer = await pay?.handler({ body: { to: payee.did, amount: '5' }, query: new URLSearchParams(), params: {}, signal: new AbortController().signal }) as Record<string, unknown>

        const head = ledger.chainHead(payer.did)
        expect(answer).toEqual({ id: head?.id, from: payer.did, to: payee.did, currency: 'ICN', amount: '5', balance: '-5' })
        expect(head?.seq).toBe(1)
        expect(ledger.balance(payee.did, 'ICN')).toBe(5n)
        expect(await warning).toMatchObject({ level: 40, id: head?.id, err: 'gossip is not running', msg: 'committed payment not gossiped; peers will get it by history sync' })
        expect(published).toEqual([ledger.entry(head?.id ?? '')?.bytes])
      } finally {
        await ledger.close()
      }
    })
  })

  it('refuses a payment to oneself and to a non-member before the ledger: nothing stored, nothing published', async () => {
    await withTempDir(async (dir) => {
      const ledger = await openLedger({ path: join(dir, 'ledger') })
      try {
        const published: Uint8Array[] = []
        const pay = payRoute(dir, ledger, pino({ level: 'silent' }), async (entry) => { published.push(entry) })
        const attempt = async (to: string): Promise<unknown> => await pay?.handler({ body: { to, amount: '5' }, query: new URLSearchParams(), params: {}, signal: new AbortController().signal }).then(() => undefined, (err: unknown) => err)

        const self = await attempt(payer.did)
        expect(self).toBeInstanceOf(SelfPaymentError)
        expect(self).toMatchObject({ code: 'SELF_PAYMENT', message: 'a payment to oneself moves nothing: pay another member' })
        const outsider = await attempt(stranger.did)
        expect(outsider).toBeInstanceOf(NotAMemberError)
        expect(outsider).toMatchObject({ code: 'NOT_A_MEMBER', message: `${stranger.did} is not a member of coop:pay: payments go to members only (\`icn-node members\` lists them)` })
        expect(ledger.chainHead(payer.did)).toBeUndefined()
        expect(ledger.entryCount()).toBe(0)
        expect(published).toEqual([])
      } finally {
        await ledger.close()
      }
    })
  })
})
