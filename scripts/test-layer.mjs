#!/usr/bin/env node
// Runs one verification layer (test/layer<N>.*.test.ts) across every package:
//   pnpm test:layer 4
import { spawnSync } from 'node:child_process'

const layer = process.argv[2]
if (!/^[1-4]$/.test(layer ?? '')) {
  console.error('usage: pnpm test:layer <1|2|3|4>')
  process.exit(2)
}
const result = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--concurrency=1'], {
  stdio: 'inherit',
  env: { ...process.env, ICN_LAYER: layer, TURBO_TELEMETRY_DISABLED: '1' }
})
process.exit(result.status ?? 1)
