import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { settingsModulesFor } from '@ballast/platform/host';
import { defaultProjectRoot, kernelSettingsModules } from '../../platform/src/kernel/config/load-config.ts';
import { apps } from './apps.ts';

describe('.env.example', () => {
  it('documents every setting of the platform and of every app, and only settings that exist', () => {
    const text = fs.readFileSync(path.join(defaultProjectRoot, '.env.example'), 'utf8');
    const documented = Object.keys(parseEnv(text));
    const commented = [...text.matchAll(/^#\s*([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]);
    const { modules: platform, apps: ofApps } = settingsModulesFor(apps);
    const modules = [...kernelSettingsModules, ...platform, ...ofApps];
    const known = modules.flatMap((module) => Object.keys(module.schema.shape));
    expect(new Set([...documented, ...commented])).toEqual(new Set(known));
    for (const module of modules) {
      for (const [name, schema] of Object.entries(module.schema.shape)) {
        expect((schema as { description?: string }).description, `${name} needs .describe()`).toBeTruthy();
      }
    }
  });
});
