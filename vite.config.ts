import fs from 'node:fs';
import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The browser half of Ballast: one build for the platform's pages and every app's `web/`, served
 * by the web process from `dist/web` under `/assets/web/`. The server finds each entry's files
 * through Vite's manifest (see platform/src/kernel/http/web-pages.ts).
 */
export const webEntries: Record<string, string> = {
  // The one stylesheet (tokens and components): linked by every page, React or server-rendered.
  ballast: 'packages/ui/src/ballast.css',
  // The platform's own pages (accounts, administration), which live in packages/ui.
  platform: 'packages/ui/src/pages/main.tsx',
  // Every app with a web/ folder is an entry named after the app.
  ...Object.fromEntries(
    fs
      .readdirSync(path.join(import.meta.dirname, 'apps'))
      .filter((app) => fs.existsSync(path.join(import.meta.dirname, 'apps', app, 'web', 'main.tsx')))
      .map((app) => [app, `apps/${app}/web/main.tsx`]),
  ),
};

export default defineConfig({
  root: import.meta.dirname,
  base: '/assets/web/',
  plugins: [react()],
  publicDir: false,
  build: {
    outDir: path.join(import.meta.dirname, 'dist/web'),
    emptyOutDir: true,
    manifest: true,
    sourcemap: true,
    // The ElevenLabs SDK (with LiveKit) is one ~600 kB chunk, loaded only when a call uses it.
    chunkSizeWarningLimit: 700,
    rollupOptions: { input: webEntries },
  },
  logLevel: 'warn',
});
