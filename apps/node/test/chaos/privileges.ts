// The chaos cases that change the machine (a tmpfs mount, network namespaces) need root: they check
// for it up front and fail with this message rather than skip.
import { execFileSync } from 'node:child_process'

/** Throws a clear error unless this process runs as root with `tool` available. */
export function requireRoot (what: string, tools: string[]): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`the chaos case '${what}' needs root (it ${tools.includes('ip') ? 'creates network namespaces' : 'mounts a tmpfs'}): run \`pnpm test:chaos\` / \`pnpm test\` as root, as CI does; uid is ${process.getuid?.() ?? 'unknown'}`)
  }
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    } catch {
      throw new Error(`the chaos case '${what}' needs \`${tool}\` on PATH (scripts/chaos-prereqs.sh installs it)`)
    }
  }
}

/** Runs a command, throwing with its stderr on failure; returns stdout. */
export function run (command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}
