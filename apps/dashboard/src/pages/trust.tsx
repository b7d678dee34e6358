import type { JSX } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { post } from '../api.js'
import { Did, Empty, LoadError, OutcomeLine, Section, byName, nameOrShortDid, namedDid, useAction, useData, useMembers, useNames } from '../components.js'

const GRAPHS = ['social', 'economic', 'technical'] as const
type GraphName = typeof GRAPHS[number]

interface TrustGraphView {
  viewer: string
  graph: GraphName
  nodes: Array<{ did: string, self: boolean, score: number | null, class: string | null }>
  edges: Array<{ source: string, target: string, score: number, createdAt: number, expiresAt: number | null }>
}
interface ScoreRow { did: string, scores: Record<GraphName, { score: number, class: string }> }


/**
 * One trust graph drawn by Cytoscape: members as nodes (this node filled), attestations as arrows labelled with
 * their score. Cytoscape is most of the bundle, so it is its own chunk, loaded when this page first draws.
 */
function GraphPicture ({ view }: { view: TrustGraphView }): JSX.Element {
  const box = useRef<HTMLDivElement>(null)
  const names = useNames()
  // Each node's label: the member's name (else the end of its DID), as the picture is drawn.
  const labels = Object.fromEntries(view.nodes.map((n) => [n.did, names.get(n.did) ?? `…${n.did.slice(-6)}`]))
  useEffect(() => {
    const container = box.current
    if (container === null) return
    let cy: { destroy: () => void } | undefined
    let gone = false
    void import('cytoscape').then(({ default: cytoscape }) => {
      if (gone) return
      cy = draw(cytoscape, container, view, labels)
    })
    return () => { gone = true; cy?.destroy() }
  }, [JSON.stringify(view), JSON.stringify(labels)])
  return <div class='graph' ref={box} data-testid={`graph-${view.graph}`} data-nodes={view.nodes.length} data-edges={view.edges.length} />
}

function draw (cytoscape: typeof import('cytoscape'), container: HTMLElement, view: TrustGraphView, labels: Record<string, string>): { destroy: () => void } {
  return cytoscape({
    container,
    elements: [
      ...view.nodes.map((n) => ({ data: { id: n.did, label: n.self ? `${labels[n.did]!} (this node)` : `${labels[n.did]!}${n.score === null ? '' : ` · ${n.score.toFixed(2)}`}`, self: n.self ? 1 : 0 } })),
      ...view.edges.map((e) => ({ data: { id: `${e.source}>${e.target}`, source: e.source, target: e.target, label: e.score.toFixed(2), width: 1 + 4 * e.score } }))
    ],
    layout: { name: 'circle', padding: 30 },
    style: [
      { selector: 'node', style: { label: 'data(label)', 'font-size': 11, 'background-color': '#7aa6d8', 'text-valign': 'bottom', 'text-margin-y': 4, color: '#1d2a3a' } },
      { selector: 'node[self = 1]', style: { 'background-color': '#1f5fa8', 'font-weight': 'bold' } },
      { selector: 'edge', style: { width: 'data(width)', 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'line-color': '#9bb0c8', 'target-arrow-color': '#9bb0c8', label: 'data(label)', 'font-size': 9, 'text-background-color': '#ffffff', 'text-background-opacity': 1 } }
    ],
    userZoomingEnabled: false,
    boxSelectionEnabled: false
  })
}

function GraphCard ({ graph }: { graph: GraphName }): JSX.Element {
  const view = useData<TrustGraphView>(`/trust/graph?graph=${graph}`)
  return (
    <Section title={`${graph[0]!.toUpperCase()}${graph.slice(1)} graph`} testid={`graph-card-${graph}`}>
      <LoadError error={view.error} />
      {view.data === undefined ? null : view.data.edges.length === 0 && view.data.nodes.length <= 1 ? <Empty>No attestations in this graph.</Empty> : <GraphPicture view={view.data} />}
      {view.data === undefined ? null : <p class='muted'>{view.data.nodes.length} members, {view.data.edges.length} attestations</p>}
    </Section>
  )
}

function AttestForm (): JSX.Element {
  const { data: members } = useMembers()
  const names = useNames()
  // Every member but this node, by name (the unnamed after, by DID).
  const subjects = (members?.members ?? []).filter((m) => !m.self).sort((a, b) => byName(a.name, b.name) || (a.did < b.did ? -1 : 1))
  const [subject, setSubject] = useState('')
  const [graph, setGraph] = useState<GraphName>('economic')
  const [score, setScore] = useState('')
  const { busy, outcome, run } = useAction()
  const submit = (event: Event): void => {
    event.preventDefault()
    void run(async () => {
      // An empty or non-numeric score is sent as the text it is: the node answers its typed error.
      const value = score.trim() === '' || Number.isNaN(Number(score)) ? score : Number(score)
      const done = await post<{ cid: string, subject: string, graph: string, score: number, outcome: string }>('/trust', { subject, graph, score: value })
      return `Attested ${done.score} for ${namedDid(done.subject, names)} in the ${done.graph} graph (${done.outcome}, ${done.cid}).`
    })
  }
  return (
    <form class='form' onSubmit={submit} data-testid='attest-form'>
      <label>Member <select name='subject' value={subject} onChange={(e) => { setSubject(e.currentTarget.value) }}>
        <option value=''>choose a member…</option>
        {subjects.map((m) => <option key={m.did} value={m.did} title={m.did}>{nameOrShortDid(m.did, names)}</option>)}
      </select></label>
      <label>Graph <select name='graph' value={graph} onChange={(e) => { setGraph(e.currentTarget.value as GraphName) }}>{GRAPHS.map((g) => <option key={g} value={g}>{g}</option>)}</select></label>
      <label>Score (0–1, 0 revokes) <input name='score' value={score} onInput={(e) => { setScore(e.currentTarget.value) }} /></label>
      <button type='submit' disabled={busy}>Attest</button>
      <OutcomeLine outcome={outcome} testid='attest-outcome' />
    </form>
  )
}

export function TrustPage (): JSX.Element {
  const scores = useData<ScoreRow[]>('/trust/scores')
  return (
    <div class='grid'>
      <div class='graphs'>{GRAPHS.map((g) => <GraphCard key={g} graph={g} />)}</div>
      <Section title="This node's trust in each member" testid='scores'>
        <LoadError error={scores.error} />
        {scores.data === undefined || scores.data.length === 0
          ? <Empty>No other member known.</Empty>
          : (
            <table>
              <thead><tr><th>Member</th>{GRAPHS.map((g) => <th key={g} class='num'>{g}</th>)}</tr></thead>
              <tbody>
                {scores.data.map((row) => (
                  <tr key={row.did} data-testid='score-row' data-did={row.did}>
                    <td><Did did={row.did} /></td>
                    {GRAPHS.map((g) => <td key={g} class='num' data-graph={g}>{row.scores[g].score.toFixed(3)} <span class='muted'>{row.scores[g].class}</span></td>)}
                  </tr>
                ))}
              </tbody>
            </table>
            )}
      </Section>
      <Section title='Attest trust' testid='attest'>
        <AttestForm />
      </Section>
    </div>
  )
}
