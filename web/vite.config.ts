import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// The Rust server serves the built app under /ui/ (with an SPA fallback to index.html)
// and the admin API under /api/v1 on the same origin.
// `npm run dev` proxies /api to a running server: TFM_DEV_API=https://localhost:8443 by default.
const devApi = globalThis.process?.env?.TFM_DEV_API ?? 'https://localhost:8443'

export default defineConfig({
  base: '/ui/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Keep everything as files: the server's CSP forbids nothing but inline scripts, and
    // data: URLs are only allowed for images, so never inline fonts or scripts.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2020',
  },
  server: {
    proxy: {
      '/api': { target: devApi, changeOrigin: true, secure: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
    restoreMocks: true,
    // Process the app's stylesheet so tests can read it (`style.css?raw`) and check its rules.
    css: { include: [/style\.css/] },
  },
})
