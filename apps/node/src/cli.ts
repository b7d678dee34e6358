#!/usr/bin/env node
import { Command } from 'commander'
import { initDataDir } from './data-dir.js'

const program = new Command('icn-node').description('The ICN node').showHelpAfterError()
program.command('init').description('create an identity and data directory').requiredOption('--data-dir <dir>', 'data directory')
  .action(async (opts: { dataDir: string }) => {
    const kp = await initDataDir(opts.dataDir)
    console.log(kp.did)
  })
await program.parseAsync()
