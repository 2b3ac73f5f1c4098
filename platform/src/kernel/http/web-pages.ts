import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { header, html, type PageChrome } from './html.ts';

/** Where `vite build` (vite.config.ts at the repository root) writes the browser code. */
export const defaultWebDir = path.resolve(import.meta.dirname, '../../../../dist/web');

interface ManifestChunk {
  readonly file: string;
  readonly css?: readonly string[];
  readonly imports?: readonly string[];
  readonly isEntry?: boolean;
}

/** The files of each entry of the web build, from Vite's manifest. */
export interface WebBuild {
  /** Script and stylesheets of an entry (`platform`, `coach`, ...), or undefined when not built. */
  assetsOf(entry: string): { script: string; styles: string[]; preloads: string[] } | undefined;
  /**
   * Addresses of the one stylesheet every page links (the `ballast` entry, packages/ui's
   * tokens and components), or none when the build is missing.
   */
  readonly sharedStyles: readonly string[];
  readonly built: boolean;
}

/** The build's entry that is the shared stylesheet (vite.config.ts). */
export const SHARED_STYLESHEET_ENTRY = 'ballast';

/** Reads the manifest once; a missing build is not an error until a page is asked for. */
export function loadWebBuild(dir: string = defaultWebDir): WebBuild {
  const file = path.join(dir, '.vite', 'manifest.json');
  let manifest: Record<string, ManifestChunk> = {};
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, ManifestChunk>;
  } catch {
    manifest = {};
  }
  const byName = new Map<string, ManifestChunk>();
  for (const [source, chunk] of Object.entries(manifest)) {
    if (chunk.isEntry !== true) continue;
    // Entries are named in vite.config.ts; the manifest keys them by source path.
    const name = (chunk as { name?: string }).name ?? source;
    byName.set(name, chunk);
  }
  const shared = byName.get(SHARED_STYLESHEET_ENTRY);
  return {
    built: byName.size > 0,
    sharedStyles: shared?.file.endsWith('.css') === true ? [`/assets/web/${shared.file}`] : [],
    assetsOf(entry) {
      const chunk = byName.get(entry);
      if (chunk === undefined) return undefined;
      const styles = new Set<string>(chunk.css ?? []);
      const preloads: string[] = [];
      const seen = new Set<string>();
      const visit = (key: string) => {
        if (seen.has(key)) return;
        seen.add(key);
        const imported = manifest[key];
        if (imported === undefined) return;
        preloads.push(imported.file);
        for (const css of imported.css ?? []) styles.add(css);
        for (const next of imported.imports ?? []) visit(next);
      };
      for (const key of chunk.imports ?? []) visit(key);
      return { script: chunk.file, styles: [...styles], preloads };
    },
  };
}

export interface WebPage {
  readonly title: string;
  /** The web build's entry that renders it. */
  readonly entry: string;
}

/** What the server knows once for every page's frame (decorated on the server as `webChrome`). */
export interface WebChrome {
  readonly build: WebBuild;
  readonly devInbox: boolean;
  readonly apiDocs: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    webChrome: WebChrome | undefined;
  }
}

/** The frame of a page for this request: shared stylesheet, signed-in user, operator links. */
export function chromeOf(request: FastifyRequest): PageChrome {
  const chrome = request.server.webChrome;
  return {
    styles: chrome?.build.sharedStyles ?? [],
    user: request.user,
    path: (request.url.split('?')[0] ?? '/').replace(/(.)\/+$/, '$1'),
    devInbox: chrome?.devInbox ?? false,
    apiDocs: chrome?.apiDocs ?? false,
  };
}

/**
 * The HTML shell of a React page: the shared stylesheet, the entry's own files, the header as the
 * server sees it (the page's script re-renders it live), and a root the script renders into. No
 * inline script or style, so the strict CSP holds. The operator links the header may offer are
 * told to the script in data attributes.
 */
export function renderShell(build: WebBuild, page: WebPage, chrome?: PageChrome, lang = 'en'): string | undefined {
  const assets = build.assetsOf(page.entry);
  if (assets === undefined) return undefined;
  const asset = (file: string) => `/assets/web/${file}`;
  return `<!doctype html>${
    html`<html
      lang="${lang}"
      dir="ltr"
      data-dev-inbox="${String(chrome?.devInbox ?? false)}"
      data-api-docs="${String(chrome?.apiDocs ?? false)}"
    >
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${page.title}</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        ${build.sharedStyles.map(
          // React Aria adds a <style> tag (touch-action for pressable elements) unless an element
          // with this id exists; the strict CSP would refuse that tag, so the shared stylesheet,
          // which holds the same rule, takes the id.
          (href) => html`<link rel="stylesheet" href="${href}" id="react-aria-pressable-style" />`,
        )}
        ${assets.styles
          .map(asset)
          .filter((href) => !build.sharedStyles.includes(href))
          .map((href) => html`<link rel="stylesheet" href="${href}" />`)}
        ${assets.preloads.map((file) => html`<link rel="modulepreload" href="${asset(file)}" />`)}
        <script type="module" src="${asset(assets.script)}"></script>
      </head>
      <body>
        <div id="root">
          ${chrome === undefined ? '' : header(chrome)}
          <main id="main" tabindex="-1">
            <noscript><p>This page needs JavaScript. Please enable it and reload.</p></noscript>
          </main>
        </div>
      </body>
    </html>`.value
  }\n`;
}

/** Sends a page's shell, or a clear 503 when the web build is missing. */
export function sendShell(reply: FastifyReply, build: WebBuild, page: WebPage): FastifyReply {
  const shell = renderShell(build, page, chromeOf(reply.request));
  if (shell === undefined) {
    throw new AppError(
      'unavailable',
      'http.web_not_built',
      `The web pages are not built (no "${page.entry}" entry in dist/web): run npm run build:web`,
    );
  }
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(shell);
}

/** Serves the built files under /assets/web/. Hashed names: cached for a year in production. */
export async function webAssets(app: FastifyInstance, options: { dir: string; production: boolean }): Promise<void> {
  if (!fs.existsSync(options.dir)) return;
  await app.register(fastifyStatic, {
    root: options.dir,
    prefix: '/assets/web/',
    decorateReply: false,
    // The manifest and source maps stay private in production.
    allowedPath: (pathname) => !pathname.startsWith('/.vite') && (!options.production || !pathname.endsWith('.map')),
    immutable: options.production,
    maxAge: options.production ? '365d' : 0,
  });
}
