import fs from 'node:fs';
import path from 'node:path';
import type { AppDefinition } from '@ballast/platform';

const appsFolder = path.resolve(import.meta.dirname, '../../apps');

/**
 * Loads every app under apps/: each folder with a package.json is an app, imported through its
 * package's public entry, and its `name` must be the folder's (the schema, URL and settings prefix
 * all derive from it, so a copy-pasted folder cannot quietly serve another app's name).
 */
async function loadApps(): Promise<AppDefinition[]> {
  const folders = fs
    .readdirSync(appsFolder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(appsFolder, entry.name, 'package.json')))
    .map((entry) => entry.name);
  const loaded = await Promise.all(
    folders.map(async (folder) => {
      const manifest = JSON.parse(fs.readFileSync(path.join(appsFolder, folder, 'package.json'), 'utf8')) as {
        name?: unknown;
      };
      if (typeof manifest.name !== 'string') throw new Error(`apps/${folder}/package.json has no name`);
      const entry = (await import(manifest.name)) as { default?: AppDefinition };
      const app = entry.default;
      if (app?.name !== folder) {
        throw new Error(`apps/${folder} must export as default an app named "${folder}" (defineApp), got ${app?.name}`);
      }
      return app;
    }),
  );
  // Home-page order: apps people can use first, then the ones coming soon, each by name.
  const rank = (app: AppDefinition) => (app.status === 'available' ? 0 : 1);
  return loaded.toSorted((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** The composition root: every app under apps/, in home-page order. Adding an app edits no list. */
export const apps: readonly AppDefinition[] = await loadApps();
