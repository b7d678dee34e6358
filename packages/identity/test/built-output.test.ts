import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

// testkit depends on identity, so this test spawns the process itself.
const run = promisify(execFile)
const dist = fileURLToPath(new URL('../dist/', import.meta.url))

it('a scratch script outside the workspace imports the built package and its fs entry', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'icn-scratch-'))
  try {
    const script = join(dir, 'scratch.mjs')
    await writeFile(script, [
      `import { keyPairFromSeed, toDidKey, cryptoBackend } from ${JSON.stringify(join(dist, 'index.js'))}`,
      `import { writeJsonSnapshot, readJsonSnapshot } from ${JSON.stringify(join(dist, 'fs.js'))}`,
      'const kp = keyPairFromSeed(Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex"))',
      `await writeJsonSnapshot(${JSON.stringify(join(dir, 's.json'))}, { did: kp.did })`,
      `const back = await readJsonSnapshot(${JSON.stringify(join(dir, 's.json'))})`,
      'console.log([cryptoBackend.name, back.did, toDidKey(kp.did)].join(" "))'
    ].join('\n'))
    const { stdout } = await run(process.execPath, [script], { cwd: dir })
    expect(stdout.trim()).toBe('node did:icn:zFVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
