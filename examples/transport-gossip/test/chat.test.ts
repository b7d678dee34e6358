import { fileURLToPath } from 'node:url'
import { keyPairFromSeed } from '@icn/identity'
import { type RunningSubprocess, runSubprocess, startSubprocess } from '@icn/testkit'
import { afterEach, describe, expect, it } from 'vitest'

const chat = fileURLToPath(new URL('../dist/chat.js', import.meta.url))
const seedHex = (byte: number): string => byte.toString(16).padStart(2, '0').repeat(32)
const didOf = (byte: number): string => keyPairFromSeed(Uint8Array.from(new Array(32).fill(byte))).did

const running: RunningSubprocess[] = []
afterEach(() => {
  for (const proc of running.splice(0)) proc.kill('SIGKILL')
})

describe('examples/transport-gossip: a third-party app over @icn/transport', () => {
  it('a listener process hears both entries a speaker process publishes; the speaker leaves once heard', async () => {
    const alice = didOf(1)
    const bob = didOf(2)
    const speaker = startSubprocess(chat, ['--seed', seedHex(1), '--member', bob, '--say', 'hello bob', '--say', 'second line'])
    running.push(speaker)
    await speaker.waitForOutput('LISTENING ')
    const [, speakerDid, speakerAddr] = speaker.stdout().split('\n').find((l) => l.startsWith('LISTENING '))!.split(' ')
    expect(speakerDid).toBe(alice)

    const heard = await runSubprocess(chat, ['--seed', seedHex(2), '--member', alice, '--peer', speakerAddr!, '--expect', '2'], { timeoutMs: 45_000 })
    expect(heard.split('\n').filter((l) => l.startsWith('HEARD ')).sort()).toEqual([`HEARD ${alice} hello bob`, `HEARD ${alice} second line`])
    expect(await speaker.exited).toBe(0)
  })
})
