import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '#platform/testing/temp.ts';
import { loadWebBuild, renderShell } from './web-pages.ts';
import { googleContentSources } from '#platform/modules/auth/auth.module.ts';
import { pageSecurityHeaders } from './security.ts';

function writeManifest(dir: string, manifest: unknown): void {
  fs.mkdirSync(path.join(dir, '.vite'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.vite', 'manifest.json'), JSON.stringify(manifest));
}

describe('web pages', () => {
  it('links an entry’s script, its stylesheets and the chunks it imports, from the Vite manifest', () => {
    const dir = makeTempDir();
    writeManifest(dir, {
      'packages/ui/src/ballast.css': {
        file: 'assets/ballast-xyz.css',
        name: 'ballast',
        isEntry: true,
      },
      'packages/ui/src/pages/main.tsx': {
        file: 'assets/platform-abc.js',
        name: 'platform',
        isEntry: true,
        css: ['assets/platform-abc.css'],
        imports: ['_react.js'],
      },
      '_react.js': { file: 'assets/react-def.js', css: ['assets/shared.css'] },
    });
    const build = loadWebBuild(dir);
    const shell = renderShell(build, { title: 'Sign in <& co>', entry: 'platform' })!;
    expect(shell).toContain('<title>Sign in &lt;&amp; co&gt;</title>');
    expect(shell).toContain('<script type="module" src="/assets/web/assets/platform-abc.js"></script>');
    // The one shared stylesheet first, then the entry's own.
    expect(shell.indexOf('/assets/web/assets/ballast-xyz.css')).toBeGreaterThan(0);
    expect(shell.indexOf('/assets/web/assets/ballast-xyz.css')).toBeLessThan(shell.indexOf('platform-abc.css'));
    expect(build.sharedStyles).toEqual(['/assets/web/assets/ballast-xyz.css']);
    expect(shell).toContain('<link rel="stylesheet" href="/assets/web/assets/platform-abc.css" />');
    expect(shell).toContain('<link rel="stylesheet" href="/assets/web/assets/shared.css" />');
    expect(shell).toContain('<link rel="modulepreload" href="/assets/web/assets/react-def.js" />');
    expect(shell).not.toMatch(/<script>|style=/);
    expect(renderShell(build, { title: 'x', entry: 'coach' })).toBeUndefined();
  });

  it('knows when nothing is built, and then links no stylesheet', () => {
    const build = loadWebBuild(makeTempDir());
    expect(build.built).toBe(false);
    expect(build.sharedStyles).toEqual([]);
  });

  it('allows Google Identity Services in the page CSP only when Google sign-in is configured', () => {
    const without = pageSecurityHeaders(false)['content-security-policy']!;
    expect(without).not.toContain('accounts.google.com');
    const withGoogle = pageSecurityHeaders(false, [googleContentSources])['content-security-policy']!;
    expect(withGoogle).toContain("script-src 'self' https://accounts.google.com/gsi/client");
    expect(withGoogle).toContain('frame-src https://accounts.google.com/gsi/');
    expect(withGoogle).toContain("connect-src 'self' https://accounts.google.com/gsi/");
  });
});
