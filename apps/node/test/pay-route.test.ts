import { keyPairFromSeed } from '@icn/identity'
import { openLedger } from '@icn/ledger'
import { withTempDir } from '@icn/testkit'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { NodeServices } from '../src/node.js'
import { nodeRoutes } from '../src/routes.js'

const payer = keyPairFromSeed(new Uint8Array(32).fill(31))
const payee = keyPairFromSeed(new Uint8Array(32).fill(32))

describe('POST /pay', () => {
  it('answers at the durable commit: a publish that fails is logged, never answered as an error of a committed payment', async () => {
    await withTempDir(async (dir) => {
      const ledger = await openLedger({ path: join(dir, 'ledger') })
      try {
        let logged: (line: Record<string, unknown>) => void = () => {}
        const warning = new Promise<Record<string, unknown>>((resolve) => { logged = resolve })
        const logger = pino({ level: 'warn', base: {} }, { write: (line: string) => { logged(JSON.parse(line) as Record<string, unknown>) } })
        const published: Uint8Array[] = []
        const services = {
          keyPair: payer,
          ledger,
          logger,
          dataDir: dir,
          publishLedgerEntry: async (entry: Uint8Array) => { published.push(entry); throw new Error('gossip is not running') }
        } as unknown as NodeServices
        const pay = nodeRoutes(services, () => { throw new Error('status is not used') }).find((r) => r.method === 'POST' && r.path === '/pay')
        const answer = await pay?.handler({ body: { to: payee.did, amount: '5' }, query: new URLSearchParams(), params: {}, signal: new AbortController().signal }) as Record<string, unknown>

        const head = ledger.chainHead(payer.did)
        expect(answer).toEqual({ id: head?.id, from: payer.did, to: payee.did, currency: 'ICN', amount: '5', balance: '-5' })
        expect(head?.seq).toBe(1)
        expect(ledger.balance(payee.did, 'ICN')).toBe(5n)
        expect(published).toEqual([ledger.entry(head?.id ?? '')?.bytes])
        expect(await warning).toMatchObject({ level: 40, id: head?.id, err: 'gossip is not running', msg: 'committed payment not gossiped; peers will get it by history sync' })
      } finally {
        await ledger.close()
      }
    })
  })
})
