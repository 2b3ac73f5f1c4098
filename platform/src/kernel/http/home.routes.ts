import type { FastifyInstance } from 'fastify';
import type { AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { html, page } from './html.ts';
import { chromeOf } from './web-pages.ts';

export interface HomeRoutesOptions {
  readonly apps: readonly AppDefinition[];
  readonly version: string;
  readonly apiDocs: boolean;
  /** Site-wide notices from the modules (test-mode payments), shown at the top. */
  readonly notices: readonly string[];
}

/**
 * The home page, for people: what each product does and one way into each available one. The
 * operator links (API docs, health, metrics) sit in the footer, out of the consumer navigation.
 * Rendered per request so the header shows who is signed in.
 */
export async function homeRoutes(app: FastifyInstance, options: HomeRoutesOptions): Promise<void> {
  const body = html`${options.notices.map((notice) => html`<p class="test-mode-banner" role="note">${notice}</p>`)}
    <p class="message" data-kind="info" id="setup-notice" hidden>
      Ballast has no administrator yet. <a href="/setup">Create the first administrator</a> to finish setting it up.
    </p>
    <section class="hero">
      <h1>Ballast</h1>
      <p class="lede">AI products you can use today: pick one below. One account works for all of them.</p>
    </section>
    <section aria-labelledby="apps-heading">
      <h2 id="apps-heading">Products</h2>
      <ul class="app-grid">
        ${options.apps.map(
          (item) =>
            html`<li class="app-card" data-app="${item.name}">
              <h3>${item.status === 'available' ? html`<a href="/${item.name}/">${item.title}</a>` : item.title}</h3>
              <p>${item.summary}</p>
              <p>
                ${
                  item.status === 'available'
                    ? html`<a class="button" data-variant="primary" href="/${item.name}/"
                        >Open ${item.title.toLowerCase()}</a
                      >`
                    : html`<span class="badge" data-state="soon">coming soon</span>`
                }
              </p>
            </li>`,
        )}
      </ul>
    </section>`;
  const footer = html`<footer class="site-footer" aria-label="For operators and developers">
    <p>
      <span>Ballast ${options.version}</span>
      <span>Status: <span id="readiness" class="badge" data-state="unknown">checking…</span></span>
      ${options.apiDocs ? html`<a href="/docs">API documentation</a>` : ''}
      <a href="/healthz">Health</a>
      <a href="/readyz">Readiness</a>
      <a href="/metrics">Metrics</a>
    </p>
  </footer>`;
  app.get('/', { schema: { hide: true } }, async (request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(page({ title: 'Ballast', body, footer, chrome: chromeOf(request), scripts: ['/assets/home.js'] })),
  );
}
