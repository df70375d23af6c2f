import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The gateway serves the built app and the API on one origin; in development Vite proxies to it.
const gateway = process.env.QF_GATEWAY_URL_DEV || 'http://127.0.0.1:3001';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: { input: { main: 'index.html', bench: 'bench.html' } },
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/socket.io': { target: gateway, ws: true },
      '/api': gateway,
      '/health': gateway,
    },
  },
  test: {
    include: ['src/**/*.test.js'],
    environment: 'node',
  },
});
