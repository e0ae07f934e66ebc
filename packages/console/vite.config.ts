import { defineConfig } from 'vite';

/** The console's build: plain TypeScript and uPlot into dist/, hashed assets, nothing loaded from elsewhere. */
export default defineConfig({
  root: 'web',
  base: '/',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
});
