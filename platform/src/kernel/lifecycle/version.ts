import fs from 'node:fs';
import path from 'node:path';

/** Ballast's version, from the root package.json. */
export function readVersion(projectRoot: string): string {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
