import { defineConfig } from 'vite'

// The node serves dist/ itself (apps/node/src/dashboard.ts): plain relative asset URLs, no CDN, no
// module preload polyfill fetched at run time, every asset bundled.
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, modulePreload: false, chunkSizeWarningLimit: 1500 }
})
