// Small pictures drawn as inline SVG from the node's figures: a line per currency, bars per day, a standing bar.
// Hand-drawn on purpose: three shapes, a few dozen lines, against ~100 kB for a charting library.
import type { JSX } from 'preact'

const WIDTH = 600
const HEIGHT = 180
const PAD = { left: 64, right: 12, top: 12, bottom: 24 }
/** Line colours per series (AA contrast on white). */
export const SERIES_COLOURS = ['#1f5fa8', '#b5483a', '#2e7d4f', '#7a4fa8', '#8a5a12']

/** `value` with thousands separators (bigint-safe: figures arrive as decimal strings). */
export function grouped (value: string | number): string {
  const text = String(value)
  const negative = text.startsWith('-')
  const digits = negative ? text.slice(1) : text
  return `${negative ? '−' : ''}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`
}

const x = (i: number, n: number): number => PAD.left + (n <= 1 ? 0 : (i * (WIDTH - PAD.left - PAD.right)) / (n - 1))

/** A balance holds until the day it changes: a step line through the end-of-day figures. */
function steps (values: number[], y: (v: number) => number): string[] {
  return values.flatMap((v, i) => {
    const at = x(i, values.length).toFixed(1)
    return i === 0 ? [`${at},${y(v).toFixed(1)}`] : [`${at},${y(values[i - 1]!).toFixed(1)}`, `${at},${y(v).toFixed(1)}`]
  })
}

/** One line per series over the same days, with the zero line, the extremes and the first and last day labelled. */
export function LineChart ({ days, series, label, testid }: { days: string[], series: Array<{ name: string, values: string[] }>, label: string, testid: string }): JSX.Element {
  const all = series.flatMap((s) => s.values.map(Number))
  const top = Math.max(0, ...all)
  const bottom = Math.min(0, ...all)
  const span = top - bottom === 0 ? 1 : top - bottom
  const y = (v: number): number => PAD.top + ((top - v) * (HEIGHT - PAD.top - PAD.bottom)) / span
  return (
    <svg class='chart' viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role='img' aria-label={label} data-testid={testid}>
      <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(0)} y2={y(0)} stroke='#8593a3' stroke-dasharray='3 3' />
      <text x={PAD.left - 6} y={y(top) + 4} text-anchor='end'>{grouped(top)}</text>
      {bottom === 0 ? null : <text x={PAD.left - 6} y={y(bottom)} text-anchor='end'>{grouped(bottom)}</text>}
      {top === 0 && bottom === 0 ? null : <text x={PAD.left - 6} y={y(0) + 4} text-anchor='end'>0</text>}
      <text x={PAD.left} y={HEIGHT - 6}>{days[0]}</text>
      <text x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor='end'>{days[days.length - 1]}</text>
      {series.map((s, k) => (
        <polyline
          key={s.name} fill='none' stroke={SERIES_COLOURS[k % SERIES_COLOURS.length]} stroke-width='2'
          points={steps(s.values.map(Number), y).join(' ')}
          data-series={s.name} data-values={s.values.join(',')}
        />
      ))}
    </svg>
  )
}

/** One bar per day, the largest labelled. */
export function BarChart ({ days, counts, label, testid }: { days: string[], counts: number[], label: string, testid: string }): JSX.Element {
  const top = Math.max(1, ...counts)
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(1, counts.length)
  const h = (c: number): number => (c * (HEIGHT - PAD.top - PAD.bottom)) / top
  return (
    <svg class='chart' viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role='img' aria-label={label} data-testid={testid} data-counts={counts.join(',')}>
      <line x1={PAD.left} x2={WIDTH - PAD.right} y1={HEIGHT - PAD.bottom} y2={HEIGHT - PAD.bottom} stroke='#8593a3' />
      <text x={PAD.left - 6} y={PAD.top + 4} text-anchor='end'>{grouped(top)}</text>
      <text x={PAD.left - 6} y={HEIGHT - PAD.bottom} text-anchor='end'>0</text>
      {counts.map((c, i) => c === 0
        ? null
        : <rect key={i} x={PAD.left + i * slot + slot * 0.15} width={slot * 0.7} y={HEIGHT - PAD.bottom - h(c)} height={h(c)} fill='#1f5fa8'><title>{`${days[i] ?? ''}: ${c}`}</title></rect>)}
      <text x={PAD.left} y={HEIGHT - 6}>{days[0]}</text>
      <text x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor='end'>{days[days.length - 1]}</text>
    </svg>
  )
}

/**
 * A balance against its credit limit: the left half is the credit a member may use (down to −limit), the right
 * half what it is owed (scaled by `positiveScale`, the largest positive balance shown beside it).
 */
export function StandingBar ({ balance, limit, positiveScale }: { balance: string, limit: string, positiveScale: number }): JSX.Element {
  const b = Number(balance)
  const l = Number(limit)
  const used = b < 0 ? (l <= 0 ? 1 : Math.min(1, -b / l)) : 0
  const owed = b > 0 ? Math.min(1, b / Math.max(1, positiveScale)) : 0
  return (
    <span class='bar' aria-hidden='true'>
      {used > 0 ? <span class='neg' style={{ right: '50%', width: `${(used * 50).toFixed(1)}%` }} /> : null}
      {owed > 0 ? <span class='pos' style={{ left: '50%', width: `${(owed * 50).toFixed(1)}%` }} /> : null}
      <span class='zero' />
    </span>
  )
}
