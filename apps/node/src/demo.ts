import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { KindRule } from '@icn/governance'
import { type ApiClient, ApiCallError, connectApi, waitUntil } from './client.js'
import { writeFileAtomic } from '@icn/identity/fs'
import { writeCharterFile } from './charter.js'
import { initDataDir } from './data-dir.js'
import { DemoFailedError } from './errors.js'

/** Options of `icn-node demo`. */
export interface DemoOptions {
  /** Node processes to start (at least 3: a snapshot needs 3 participants). @default 3 */
  nodes: number
  /** The whole demo is aborted (every process killed) after this long. @default 55000 */
  timeoutMs: number
  /** Keep the temporary data directories for inspection. @default false */
  keep: boolean
  /** Where progress and the summary go. @default process.stdout */
  out: NodeJS.WritableStream
  /** The built CLI each node process runs. @default the `cli.js` next to this module */
  cliPath: string
}

/** What the demo established, for tests and the summary. */
export interface DemoResult {
  dids: string[]
  balances: string[]
  stateRoot: string
  proposal: { id: string, state: string, creditLimit: string }
  periodicSnapshot: string
  snapshot: { id: string, root: string, verifiedBy: number }
  /** The node admitted by invitation after the founding: its DID, the proposal that admitted it, and the ledger root it caught up to. */
  joined: { did: string, name: string, proposal: string, stateRoot: string }
}

/** Display names of the founding members (node0, node1, …) and of the member admitted by invitation. */
const FOUNDER_NAMES = ['Alder Bakery', 'Birch Housing', 'Cedar Farm', 'Dogwood Press', 'Elm Grocers', 'Fir Repair', 'Ginkgo Care', 'Hazel Print', 'Ivy Books', 'Juniper Bikes',
  'Kale Kitchen', 'Larch Tools', 'Maple Energy', 'Nettle Textiles', 'Oak Timber', 'Pine Transit', 'Quince Cafe', 'Rowan Clinic', 'Sage Radio', 'Teak Works']
const JOINER_NAME = 'Willow Credit Union'

const CURRENCY = 'ICN'
const VOTING_MS = 3000
const SNAPSHOT_TIMEOUT_MS = 8000

interface DemoNode {
  index: number
  dir: string
  did: string
  proc: ChildProcess
  exited: Promise<number | string>
  api?: ApiClient
}

const short = (did: string): string => `${did.slice(0, 12)}…${did.slice(-6)}`

/**
 * Runs the local multi-node demo: N real `icn-node run` processes on loopback
 * with fresh data directories under a temp dir, connected in a full mesh; trust
 * attestations, payments, a credit-limit proposal voted through, a periodic
 * snapshot, then a distributed snapshot verified on every node. Every process
 * is stopped (SIGTERM, awaited) before it returns; a hard timeout kills them
 * and fails the demo rather than hang.
 */
export async function runDemo (options: Partial<DemoOptions> = {}): Promise<DemoResult> {
  const opts: DemoOptions = { nodes: 3, timeoutMs: 55_000, keep: false, out: process.stdout, cliPath: fileURLToPath(new URL('./cli.js', import.meta.url)), ...options }
  if (!Number.isSafeInteger(opts.nodes) || opts.nodes < 3 || opts.nodes > 20) throw new DemoFailedError('--nodes must be an integer from 3 to 20')
  const began = Date.now()
  const say = (text: string): void => { opts.out.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(5)}s] ${text}\n`) }
  const root = await mkdtemp(join(tmpdir(), 'icn-demo-'))
  const cli = opts.cliPath
  const nodes: DemoNode[] = []
  let timedOut = false
  const deadline = began + opts.timeoutMs
  const hardStop = setTimeout(() => {
    timedOut = true
    for (const n of nodes) n.proc.kill('SIGKILL')
  }, opts.timeoutMs)

  const timedOutWaitingFor = (what: string): DemoFailedError => new DemoFailedError(`timed out waiting for ${what}`)
  // A node's API is not up yet: nothing to long-poll, so retry every 100 ms until the deadline.
  const waitForApi = async (n: DemoNode): Promise<ApiClient> => {
    for (;;) {
      if (timedOut || Date.now() > deadline) throw timedOutWaitingFor(`node${n.index} to start`)
      const client = await connectApi(n.dir).catch(() => undefined)
      if (client !== undefined) return client
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  // Everything else: the probe re-runs whenever the change feed (`GET /wait`) of a node in `watch` moves.
  const waitFor = async <T>(what: string, watch: DemoNode[], probe: () => Promise<T | undefined>): Promise<T> => {
    if (timedOut || Date.now() > deadline) throw timedOutWaitingFor(what)
    let value: T | undefined
    try {
      value = await waitUntil(watch.map(api), probe, deadline)
    } catch (cause) {
      // The hard stop killed the processes under a pending long-poll: that is the timeout.
      if (timedOut) throw timedOutWaitingFor(what)
      throw new DemoFailedError(`node API failed while waiting for ${what}: ${(cause as Error).message}`, { cause })
    }
    if (value === undefined) throw timedOutWaitingFor(what)
    return value
  }
  const api = (n: DemoNode): ApiClient => n.api!

  try {
    say(`data directories under ${root}`)
    const keys = []
    for (let i = 0; i < opts.nodes; i++) keys.push(await initDataDir(join(root, `node${i}`)))
    const dids = keys.map((k) => k.did)
    // One cooperative for all nodes; short windows so a proposal passes within the demo.
    const quick: KindRule = { proposers: ['member', 'steward'], quorumBps: 5000, approvalBps: 5000, deliberation: { defaultMs: 0, minMs: 0, maxMs: 60_000 }, votingMs: VOTING_MS }
    for (let i = 0; i < opts.nodes; i++) {
      // A snapshot started before every participant trusts the initiator is refused by some of them: fail it fast.
      await writeFileAtomic(join(root, `node${i}`, 'config.json'), new TextEncoder().encode(JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], snapshotTimeoutMs: SNAPSHOT_TIMEOUT_MS }, null, 2)))
      await writeCharterFile(join(root, `node${i}`), {
        domain: 'coop:demo',
        name: 'Demo cooperative',
        members: dids.map((did, j) => ({ did, role: j === 0 ? 'steward' : 'member' })),
        // A steward's invitation admits unless a member objects within the vote (one vote for carries it).
        kinds: { 'text': quick, 'config-change': quick, 'membership': { ...quick, proposers: ['steward'], quorumBps: 1 } }
      })
    }

    for (let i = 0; i < opts.nodes; i++) {
      const dir = join(root, `node${i}`)
      const args = [cli, 'run', '--data-dir', dir, '--log-level', 'info', ...(i === 0 ? ['--snapshot-every', '3'] : [])]
      const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      const log = createWriteStream(join(root, `node${i}.log`))
      proc.stdout?.pipe(log)
      proc.stderr?.pipe(log)
      const exited = new Promise<number | string>((resolve) => { proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')) })
      nodes.push({ index: i, dir, did: dids[i]!, proc, exited })
    }
    for (const n of nodes) n.api = await waitForApi(n)
    say(`${opts.nodes} node processes running (pids ${nodes.map((n) => n.proc.pid).join(', ')})`)

    for (const n of nodes) {
      for (const m of nodes.slice(0, n.index)) await api(n).post('/peers', { multiaddr: api(m).runtime.multiaddrs[0] })
    }
    for (const n of nodes) {
      await waitFor(`node${n.index} to see every peer`, [n], async () => {
        const peers = await api(n).get('/peers') as unknown[]
        return peers.length === opts.nodes - 1 ? true : undefined
      })
    }
    say(`full mesh: every node has ${opts.nodes - 1} libp2p peers (noise + yamux; only members get past the handshake)`)
    await Promise.all(nodes.map(async (n) => await api(n).post('/profile', { name: FOUNDER_NAMES[n.index]! })))
    say(`members: ${nodes.map((n) => FOUNDER_NAMES[n.index]!).join(', ')} founded coop:demo`)

    await Promise.all(nodes.map(async (n) => {
      for (const m of nodes) {
        if (m === n) continue
        for (const graph of ['technical', 'economic', 'social']) await api(n).post('/trust', { subject: m.did, score: 0.9, graph })
      }
    }))
    const attestations = opts.nodes * (opts.nodes - 1) * 3
    for (const n of nodes) {
      await waitFor(`node${n.index} to hold every attestation`, [n], async () => {
        const status = await api(n).get('/status') as { trust: { attestations: number } }
        return status.trust.attestations === attestations ? true : undefined
      })
    }
    say(`trust: ${attestations} signed attestations gossiped to every node`)

    await Promise.all(nodes.map(async (n) => {
      const to = nodes[(n.index + 1) % opts.nodes]!
      await api(n).post('/pay', { to: to.did, amount: String(100 + 50 * n.index), currency: CURRENCY })
    }))
    const stateRoot = await waitFor('every node to apply every payment', nodes, async () => {
      const roots = await Promise.all(nodes.map(async (n) => (await api(n).get('/status') as { ledger: { entries: number, stateRoot: string } }).ledger))
      return roots.every((r) => r.entries === opts.nodes && r.stateRoot === roots[0]!.stateRoot) ? roots[0]!.stateRoot : undefined
    })
    say(`ledger: ${opts.nodes} payments applied on every node, same ledger root ${stateRoot.slice(0, 16)}…`)

    const subject = nodes[1]!
    const proposal = await api(nodes[0]!).post('/proposals', {
      kind: 'config-change',
      title: `Raise ${short(subject.did)}'s credit limit`,
      payload: { key: 'ledger.creditLimit', subject: subject.did, value: { currency: CURRENCY, limit: '50000' } }
    }) as { id: string }
    // Every node votes as soon as it sees voting open. A node that gets the proposal only after its voting window
    // has closed (gossip delayed past VOTING_MS) goes straight past 'open': it cannot vote, and the demo says so
    // rather than waiting for a state that node will never show. Two votes of three still carry it.
    const stateOf = async (n: DemoNode): Promise<string> => (await api(n).get(`/proposals/${proposal.id}`) as { state: string }).state
    const voted = await Promise.all(nodes.map(async (n) => {
      const seen = await waitFor(`node${n.index} to see the proposal open`, [n], async () => {
        const state = await stateOf(n)
        return ['draft', 'deliberation'].includes(state) ? undefined : state
      })
      if (seen !== 'open') return false
      return await api(n).post('/votes', { proposal: proposal.id, choice: 'for' }).then(() => true, (err: unknown) => {
        if (err instanceof ApiCallError && err.remoteCode === 'OUTSIDE_WINDOW') return false // closed between the read and the vote
        throw err
      })
    }))
    const late = nodes.filter((_, i) => voted[i] !== true).map((n) => `node${n.index}`)
    say(`governance: proposal ${proposal.id.slice(0, 16)}… open, ${voted.filter(Boolean).length} votes for (voting closes after ${VOTING_MS / 1000} s)` +
      (late.length === 0 ? '' : `; ${late.join(', ')} saw it only after voting closed`))
    for (const n of nodes) {
      const final = await waitFor(`node${n.index} to close the proposal`, [n], async () => {
        const state = await stateOf(n)
        return ['draft', 'deliberation', 'open'].includes(state) ? undefined : state
      })
      if (final !== 'executed') throw new DemoFailedError(`node${n.index} closed the proposal as ${final}, not executed`)
    }
    const limits = await Promise.all(nodes.map(async (n) => {
      const b = await waitFor(`node${n.index} to apply the new credit limit`, [n], async () => {
        const r = await api(n).get(`/balance?account=${subject.did}&currency=${CURRENCY}`) as { creditLimit: string }
        return r.creditLimit === '50000' ? r : undefined
      })
      return b.creditLimit
    }))
    say(`governance: proposal executed on every node; ${short(subject.did)}'s credit limit is ${limits[0]!} ${CURRENCY} everywhere`)

    const periodic = await waitFor('a periodic snapshot (node0 runs --snapshot-every 3)', [nodes[0]!], async () => {
      const list = await api(nodes[0]!).get('/snapshots') as Array<{ snapshotId: string, initiator: string, root: string }>
      return list.find((s) => s.initiator === nodes[0]!.did)
    })
    say(`snapshot: periodic snapshot ${periodic.snapshotId.slice(0, 12)}… completed (root ${periodic.root.slice(0, 16)}…)`)

    const initiator = nodes[opts.nodes - 1]!
    const taken = await api(initiator).post('/snapshots') as { snapshotId: string, root: string, participants: string[] }
    say(`snapshot: distributed snapshot ${taken.snapshotId.slice(0, 12)}… by node${initiator.index} over ${taken.participants.length} participants`)
    const reports = await Promise.all(nodes.map(async (n) => {
      const stored = await waitFor(`node${n.index} to store the snapshot`, [n], async () => {
        const list = await api(n).get('/snapshots') as Array<{ snapshotId: string, root: string }>
        return list.find((s) => s.snapshotId === taken.snapshotId)
      })
      const report = await api(n).post(`/snapshots/${taken.snapshotId}/verify`) as { valid: boolean, expectedRoot: string }
      return { stored: stored.root, ...report }
    }))
    const verifiedBy = reports.filter((r) => r.valid && r.expectedRoot === taken.root && r.stored === taken.root).length
    if (verifiedBy !== opts.nodes) throw new DemoFailedError(`snapshot verified on ${verifiedBy} of ${opts.nodes} nodes`)
    say(`snapshot: every node stores root ${taken.root.slice(0, 16)}… and verified it with every participant`)

    // Admission: node0 (the steward) invites a new cooperative; it joins with one command and catches up.
    const founders = [...nodes]
    const invitation = await api(nodes[0]!).post('/invitations', { expiresInMs: 10 * 60_000, name: JOINER_NAME }) as { code: string, id: string }
    say(`invitation: ${FOUNDER_NAMES[0]!} created a single-use invitation (${invitation.code.length} characters)`)
    const joinerDir = join(root, `node${opts.nodes}`)
    {
      const proc = spawn(process.execPath, [cli, 'join', invitation.code, '--data-dir', joinerDir, '--name', JOINER_NAME, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] })
      const log = createWriteStream(join(root, `node${opts.nodes}.log`))
      proc.stdout?.pipe(log)
      proc.stderr?.pipe(log)
      const exited = new Promise<number | string>((resolve) => { proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')) })
      nodes.push({ index: opts.nodes, dir: joinerDir, did: '', proc, exited })
    }
    const joiner = nodes[opts.nodes]!
    joiner.api = await waitForApi(joiner)
    joiner.did = joiner.api.runtime.did
    const joinProposal = await waitFor('the inviter to raise the membership proposal', [founders[0]!], async () => {
      const members = await api(founders[0]!).get('/members') as { candidates: Array<{ did: string, proposal: string | null }> }
      return members.candidates.find((c) => c.did === joiner.did)?.proposal ?? undefined
    })
    say(`invitation: ${JOINER_NAME} (${short(joiner.did)}) joined with \`icn-node join <code>\`; proposal ${joinProposal.slice(0, 16)}… raised by its inviter`)
    for (const n of nodes) {
      await waitFor(`node${n.index} to count ${JOINER_NAME} as a member`, [n], async () => {
        const members = await api(n).get('/members') as { members: Array<{ did: string, name: string | null }> }
        return members.members.some((m) => m.did === joiner.did && m.name === JOINER_NAME) ? true : undefined
      })
    }
    const joinedRoot = await waitFor(`${JOINER_NAME} to catch up with the ledger`, [joiner, founders[0]!], async () => {
      const [mine, theirs] = await Promise.all([joiner, founders[0]!].map(async (n) => (await api(n).get('/status') as { ledger: { entries: number, stateRoot: string } }).ledger))
      return mine!.entries === theirs!.entries && mine!.stateRoot === theirs!.stateRoot ? mine!.stateRoot : undefined
    })
    await api(joiner).post('/pay', { to: founders[0]!.did, amount: '25', currency: CURRENCY })
    await waitFor(`every node to apply ${JOINER_NAME}'s first payment`, nodes, async () => {
      const ledgers = await Promise.all(nodes.map(async (n) => (await api(n).get('/status') as { ledger: { entries: number } }).ledger.entries))
      return ledgers.every((e) => e === ledgers[0]) && ledgers[0]! > opts.nodes ? true : undefined
    })
    say(`members: ${JOINER_NAME} is the ${nodes.length}th member on every node, caught up (ledger root ${joinedRoot.slice(0, 16)}…) and paid ${FOUNDER_NAMES[0]!} 25 ${CURRENCY}`)

    const balances = await Promise.all(founders.map(async (n) => (await api(n).get(`/balance?currency=${CURRENCY}`) as { balance: string }).balance))
    const result: DemoResult = {
      dids,
      balances,
      stateRoot,
      proposal: { id: proposal.id, state: 'executed', creditLimit: limits[0]! },
      periodicSnapshot: periodic.snapshotId,
      snapshot: { id: taken.snapshotId, root: taken.root, verifiedBy },
      joined: { did: joiner.did, name: JOINER_NAME, proposal: joinProposal, stateRoot: joinedRoot }
    }
    opts.out.write('\n=== ICN demo summary ===\n')
    for (const n of founders) {
      opts.out.write(`node${n.index}  ${FOUNDER_NAMES[n.index]!}  ${n.did}\n        peers ${opts.nodes - 1}   balance ${balances[n.index]!.padStart(5)} ${CURRENCY}   credit limit ${n === subject ? `50000 (set by governance)` : 'policy'}\n`)
    }
    opts.out.write(`node${joiner.index}  ${JOINER_NAME}  ${joiner.did}\n        admitted by invitation (proposal ${joinProposal})\n`)
    opts.out.write(`ledger root (all nodes)   ${stateRoot}\n`)
    opts.out.write(`proposal                  ${proposal.id}: executed (config-change ledger.creditLimit)\n`)
    opts.out.write(`global state root         ${taken.root}  (snapshot ${taken.snapshotId}, verified on ${verifiedBy}/${opts.nodes} nodes)\n\n`)
    return result
  } finally {
    const stopping = Date.now()
    for (const n of nodes) n.proc.kill('SIGTERM')
    const codes = await Promise.all(nodes.map(async (n) => {
      let timer: NodeJS.Timeout | undefined
      const code = await Promise.race([
        n.exited,
        new Promise<string>((resolve) => { timer = setTimeout(() => { n.proc.kill('SIGKILL'); resolve('killed') }, 10_000) })
      ])
      clearTimeout(timer)
      return code
    }))
    clearTimeout(hardStop)
    say(`stopped ${nodes.length} nodes in ${Date.now() - stopping} ms (exit codes ${codes.join(', ')})`)
    if (opts.keep) say(`kept ${root}`)
    else await rm(root, { recursive: true, force: true })
  }
}
