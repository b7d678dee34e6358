import type { JSX } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { describeError, get, onSignedOut, resumeSession, signIn, signOut } from './api.js'
import { MembersProvider, SelfContext, VersionContext } from './components.js'
import { GovernancePage } from './pages/governance.js'
import { LedgerPage } from './pages/ledger.js'
import { MembersPage } from './pages/members.js'
import { OverviewPage } from './pages/overview.js'
import { SnapshotsPage } from './pages/snapshots.js'
import { TrustPage } from './pages/trust.js'

const PAGES = {
  overview: { title: 'Overview', Page: OverviewPage },
  members: { title: 'Members', Page: MembersPage },
  ledger: { title: 'Ledger', Page: LedgerPage },
  trust: { title: 'Trust', Page: TrustPage },
  governance: { title: 'Governance', Page: GovernancePage },
  snapshots: { title: 'Snapshots', Page: SnapshotsPage }
} as const
type PageName = keyof typeof PAGES

function pageOfHash (): PageName {
  const name = location.hash.replace(/^#\/?/, '')
  return name in PAGES ? name as PageName : 'overview'
}

/** Feed state shown in the header: live with its version, reconnecting after an error, or the node stopping. */
type Feed = { state: 'live', version: number } | { state: 'reconnecting', version: number, error: string } | { state: 'stopped', version: number }

/**
 * Follows the node's change feed: `GET /status` → version, then `GET /wait?since=<version>` long-polls,
 * each answer a new version. After a failed poll it retries in 2 s (the node may be restarting).
 */
function useChangeFeed (active: boolean): Feed {
  const [feed, setFeed] = useState<Feed>({ state: 'live', version: 0 })
  useEffect(() => {
    if (!active) return
    const abort = new AbortController()
    let retry: ReturnType<typeof setTimeout> | undefined
    const follow = async (): Promise<void> => {
      let version = (await get<{ version: number }>('/status', abort.signal)).version
      setFeed({ state: 'live', version })
      for (;;) {
        const answer = await get<{ version: number, stopping?: boolean }>(`/wait?since=${version}`, abort.signal)
        if (answer.stopping === true) { setFeed({ state: 'stopped', version: answer.version }); return }
        version = answer.version
        setFeed({ state: 'live', version })
      }
    }
    const run = (): void => {
      follow().catch((err: unknown) => {
        if (abort.signal.aborted) return
        setFeed((f) => ({ state: 'reconnecting', version: f.version, error: describeError(err) }))
        retry = setTimeout(run, 2000)
      })
    }
    run()
    return () => { abort.abort(); if (retry !== undefined) clearTimeout(retry) }
  }, [active])
  return feed
}

function SignIn ({ onSignedIn }: { onSignedIn: () => void }): JSX.Element {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    setBusy(true)
    setError(undefined)
    try {
      await signIn(token.trim())
      setToken('')
      onSignedIn()
    } catch (err) {
      setError(describeError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class='signin'>
      <form class='card' onSubmit={(e) => { void submit(e) }} data-testid='signin-form'>
        <h1>ICN node dashboard</h1>
        <p>Sign in with this node's API token: the file <code>api-token</code> in its data directory (rewritten at each start).</p>
        <label>API token <input type='password' name='token' autocomplete='off' value={token} onInput={(e) => { setToken(e.currentTarget.value) }} required /></label>
        <button type='submit' disabled={busy}>Sign in</button>
        {error === undefined ? null : <p class='error' role='alert' data-testid='signin-error'>{error}</p>}
      </form>
    </main>
  )
}

export function App (): JSX.Element {
  const [auth, setAuth] = useState<'checking' | 'signed-out' | 'signed-in'>('checking')
  const [page, setPage] = useState<PageName>(pageOfHash())
  const [self, setSelf] = useState('')
  useEffect(() => {
    void resumeSession().then((live) => { setAuth(live ? 'signed-in' : 'signed-out') })
    const offSignedOut = onSignedOut(() => { setAuth('signed-out') })
    const onHash = (): void => { setPage(pageOfHash()) }
    window.addEventListener('hashchange', onHash)
    return () => { offSignedOut(); window.removeEventListener('hashchange', onHash) }
  }, [])
  const feed = useChangeFeed(auth === 'signed-in')
  useEffect(() => {
    if (auth !== 'signed-in') return
    void get<{ did: string }>('/status').then((s) => { setSelf(s.did) }, () => {})
  }, [auth])

  if (auth === 'checking') return <main class='signin'><p class='muted'>Connecting…</p></main>
  if (auth === 'signed-out') return <SignIn onSignedIn={() => { setAuth('signed-in') }} />
  const { Page } = PAGES[page]
  return (
    <SelfContext.Provider value={self}>
      <VersionContext.Provider value={feed.version}>
        <MembersProvider>
          <header>
            <strong class='brand'>ICN node</strong>
            <nav>
              {(Object.keys(PAGES) as PageName[]).map((name) => (
                <a key={name} href={`#/${name}`} class={name === page ? 'active' : ''} aria-current={name === page ? 'page' : undefined}>{PAGES[name].title}</a>
              ))}
            </nav>
            <span class={`feed ${feed.state}`} data-testid='feed' data-version={feed.version} title={feed.state === 'reconnecting' ? feed.error : 'the change feed (GET /wait) drives every update'}>
              {feed.state === 'live' ? `live · v${feed.version}` : feed.state === 'stopped' ? 'node stopping' : 'reconnecting…'}
            </span>
            <button type='button' class='link' onClick={() => { void signOut().finally(() => { setAuth('signed-out') }) }}>Sign out</button>
          </header>
          <main data-testid={`page-${page}`}>
            <h1>{PAGES[page].title}</h1>
            <Page />
          </main>
        </MembersProvider>
      </VersionContext.Provider>
    </SelfContext.Provider>
  )
}
