const mods = process.argv.slice(2)
const t0 = performance.now(); let last = t0
for (const m of mods) { await import(m); const now = performance.now(); console.log(m.padEnd(40), (now - last).toFixed(1)); last = now }
console.log('total', (last - t0).toFixed(1))
