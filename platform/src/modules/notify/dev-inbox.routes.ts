import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DB } from '#platform/db/platform.db.ts';
import type { Config } from '#platform/kernel/config/load-config.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { html, page, timeOf, type SafeHtml } from '#platform/kernel/http/html.ts';
import { chromeOf } from '#platform/kernel/http/web-pages.ts';
import { listDevInbox } from './providers/dev-inbox.ts';

export interface DevInboxRoutesOptions {
  readonly config: Config;
  /** The platform's tables (`database.view<DB>('platform')`). */
  readonly db: Kysely<DB>;
}

/** The message text with its web addresses made clickable (the links in sign-up and reset emails). */
function linkify(text: string): SafeHtml[] {
  return text
    .split(/(https?:\/\/[^\s<>"']+)/g)
    .map((part, index) => (index % 2 === 1 ? html`<a href="${part}">${part}</a>` : html`${part}`));
}

/**
 * `/dev/inbox`: every email and SMS the development inbox received, with its rendered body. Never
 * in production, where messages go to real providers.
 */
export async function devInboxRoutes(server: FastifyInstance, options: DevInboxRoutesOptions): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  app.addHook('onRequest', async () => {
    if (options.config.isProduction) throw new AppError('not_found', 'http.not_found', 'Not found');
  });

  app.get('/dev/inbox', { schema: { hide: true } }, async (request, reply) => {
    const messages = await listDevInbox(options.db);
    const body = html`<section>
      <h1>Development inbox</h1>
      <p class="muted">
        Local mode: no SMTP server or Twilio account is configured, so email and SMS are kept here instead of being
        sent. ${messages.length} message(s), newest first.
      </p>
      ${messages.length === 0 ? html`<p>No messages yet.</p>` : ''}
      <ol class="inbox">
        ${messages.map(
          (message) =>
            html`<li class="inbox-message" data-channel="${message.channel}" data-recipient="${message.recipient}">
              <p class="meta">
                <span class="badge" data-state="${message.channel === 'email' ? 'ok' : 'soon'}"
                  >${message.channel}</span
                >
                to <strong>${message.recipient}</strong>${message.sender === null ? '' : html` from ${message.sender}`}
                · ${timeOf(message.createdAt)}
              </p>
              ${message.subject === null ? '' : html`<h2 class="subject">${message.subject}</h2>`}
              <pre class="body">${linkify(message.text)}</pre>
              ${message.html === null ? '' : html`<p><a href="/dev/inbox/${message.id}/html">View as HTML</a></p>`}
            </li>`,
        )}
      </ol>
    </section>`;
    return reply
      .type('text/html; charset=utf-8')
      .send(page({ title: 'Development inbox · Ballast', body, chrome: chromeOf(request) }));
  });

  app.get(
    '/dev/inbox/:id/html',
    { schema: { hide: true, params: z.object({ id: z.uuid() }) } },
    async (request, reply) => {
      const message = (await listDevInbox(options.db, 10_000)).find((item) => item.id === request.params.id);
      if (message?.html == null) throw new AppError('not_found', 'notify.message_not_found', 'No such message');
      // The email's own markup, sandboxed: no script, no network, inline styles only (as mail clients do).
      return reply
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
        .type('text/html; charset=utf-8')
        .send(message.html);
    },
  );
}
