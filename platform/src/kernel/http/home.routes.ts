import type { FastifyInstance } from 'fastify';
import type { AppDefinition } from '#platform/kernel/lifecycle/define-app.ts';
import { html, page } from './html.ts';

export interface HomeRoutesOptions {
  readonly apps: readonly AppDefinition[];
  readonly version: string;
  readonly apiDocs: boolean;
  /** Site-wide notices from the modules (test-mode payments), shown at the top. */
  readonly notices: readonly string[];
}

/** The home page: the four products, and where to find the API docs and health. */
export async function homeRoutes(app: FastifyInstance, options: HomeRoutesOptions): Promise<void> {
  const body = html`${options.notices.map((notice) => html`<p class="test-mode-banner" role="note">${notice}</p>`)}
    <section class="hero">
      <h1>Ballast</h1>
      <p class="lede">
        A platform for AI-powered web products, and the products built on it. Every production promise (atomic task
        claiming, secrets that survive restarts, replay-safe payments, rate limits, health checks) is made true by
        construction and proved by a test or a benchmark.
      </p>
      <p class="status-line">
        Status: <span id="readiness" class="badge" data-state="unknown">checking…</span>
        <span class="muted">version ${options.version}</span>
      </p>
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
                ${item.status === 'available' ? html`<span class="badge" data-state="ok">available</span>` : html`<span class="badge" data-state="soon">coming soon</span>`}
              </p>
            </li>`,
        )}
      </ul>
    </section>
    <section aria-labelledby="ops-heading">
      <h2 id="ops-heading">For operators and developers</h2>
      <ul class="links">
        ${options.apiDocs ? html`<li><a href="/docs">API documentation</a> (OpenAPI 3.1, JSON at <a href="/docs/openapi.json">/docs/openapi.json</a>)</li>` : ''}
        <li><a href="/healthz">/healthz</a>: the process is alive</li>
        <li><a href="/readyz">/readyz</a>: database, migrations, Redis and disk, checked live</li>
        <li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
      </ul>
    </section>`;
  const rendered = page({ title: 'Ballast', body, scripts: ['/assets/home.js'] });
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(rendered),
  );
}
