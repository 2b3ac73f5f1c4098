import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { deadLetterParams, tasksOverviewAnswer } from '@ballast/contracts/tasks';
import { adminGuard } from '#platform/modules/auth/admin-guard.ts';
import type { Config } from '#platform/kernel/config/load-config.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { html, page, timeOf, type SafeHtml } from '#platform/kernel/http/html.ts';
import { chromeOf } from '#platform/kernel/http/web-pages.ts';
import type { TaskEngine, ThroughputPoint } from './task-engine.ts';

export interface TasksAdminOptions {
  readonly config: Config;
  readonly tasks: TaskEngine;
}

const CHART_WIDTH = 720;
const CHART_HEIGHT = 180;

/** Completed (green) and failed (red) runs per minute as an inline SVG bar chart: no script needed. */
function throughputChart(points: readonly ThroughputPoint[]): SafeHtml {
  const peak = Math.max(1, ...points.map((point) => point.completed + point.failed));
  const slot = CHART_WIDTH / Math.max(1, points.length);
  const bar = Math.max(1, slot - 2);
  const scale = (value: number) => (value / peak) * (CHART_HEIGHT - 20);
  const totalCompleted = points.reduce((sum, point) => sum + point.completed, 0);
  const totalFailed = points.reduce((sum, point) => sum + point.failed, 0);
  return html`<figure class="chart">
    <svg
      viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}"
      width="100%"
      role="img"
      aria-label="Completed and failed task runs per minute over the last hour: ${totalCompleted} completed, ${totalFailed} failed"
    >
      <line x1="0" y1="${CHART_HEIGHT - 0.5}" x2="${CHART_WIDTH}" y2="${CHART_HEIGHT - 0.5}" class="axis" />
      ${points.map((point, index) => {
        const completed = scale(point.completed);
        const failed = scale(point.failed);
        const x = (index * slot).toFixed(1);
        const label = `${point.minute.toISOString().slice(11, 16)} UTC: ${point.completed} completed, ${point.failed} failed`;
        return html`<g>
          <title>${label}</title>
          <rect
            class="completed"
            x="${x}"
            y="${(CHART_HEIGHT - completed).toFixed(1)}"
            width="${bar.toFixed(1)}"
            height="${completed.toFixed(1)}"
          />
          <rect
            class="failed"
            x="${x}"
            y="${(CHART_HEIGHT - completed - failed).toFixed(1)}"
            width="${bar.toFixed(1)}"
            height="${failed.toFixed(1)}"
          />
        </g>`;
      })}
      <text x="4" y="14" class="peak">${peak} / min</text>
    </svg>
    <figcaption>
      Runs per minute, last hour (UTC): <span class="legend completed">completed ${totalCompleted}</span>
      <span class="legend failed">failed ${totalFailed}</span>
    </figcaption>
  </figure>`;
}

function duration(seconds: number): string {
  if (seconds < 1) return '0 sec';
  if (seconds < 120) return `${Math.round(seconds)} sec`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} sec`;
  return `${Math.floor(seconds / 3600)} hr ${Math.round((seconds % 3600) / 60)} min`;
}

/**
 * Operator pages for background tasks: counts by state per queue, oldest waiting age, failure rate,
 * a chart of the last hour, and the dead letters with retry and discard. JSON twins for tools.
 */
export async function tasksAdminRoutes(server: FastifyInstance, options: TasksAdminOptions): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  const { tasks } = options;
  app.addHook('onRequest', adminGuard(options.config));

  app.get('/admin/tasks', { schema: { hide: true } }, async (request, reply) => {
    const [stats, dead, points] = await Promise.all([tasks.stats(), tasks.deadLetters(), tasks.throughput(60)]);
    const body = html`<section>
      <h1>Background tasks</h1>
      ${throughputChart(points)}
      <h2>Queues</h2>
      <table class="data" data-collapse>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Waiting</th>
            <th scope="col">Scheduled</th>
            <th scope="col">Running</th>
            <th scope="col">Completed</th>
            <th scope="col">Failed</th>
            <th scope="col">Dead letters</th>
            <th scope="col">Oldest waiting</th>
            <th scope="col">Failure rate (1 h)</th>
          </tr>
        </thead>
        <tbody>
          ${
            stats.length === 0
              ? html`<tr>
                  <td colspan="9">No tasks are defined.</td>
                </tr>`
              : ''
          }
          ${stats.map(
            (queue) =>
              html`<tr data-task="${queue.task}">
                <th data-label="Task" scope="row"><code>${queue.task}</code></th>
                <td data-label="Waiting">${queue.waiting}</td>
                <td data-label="Scheduled">${queue.scheduled}</td>
                <td data-label="Running">${queue.active}</td>
                <td data-label="Completed">${queue.completed}</td>
                <td data-label="Failed">${queue.failed}</td>
                <td data-label="Dead letters">${queue.deadLetters}</td>
                <td data-label="Oldest waiting">${duration(queue.oldestWaitingSeconds)}</td>
                <td data-label="Failure rate (1 h)">${(queue.failureRate * 100).toFixed(1)}%</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2>Dead letters</h2>
      ${
        dead.length === 0
          ? html`<p class="muted">None: every task that failed was retried successfully.</p>`
          : html`<table class="data" data-collapse>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Failed at</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Payload</th>
                  <th scope="col"><span class="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                ${dead.map(
                  (letter) =>
                    html`<tr data-dead-letter="${letter.id}">
                      <td data-label="Task"><code>${letter.task}</code></td>
                      <td data-label="Failed at">${timeOf(letter.failedAt)}</td>
                      <td data-label="Attempts">${letter.attempts}</td>
                      <td data-label="Last error">${letter.lastError}</td>
                      <td data-label="Payload"><code>${JSON.stringify(letter.payload).slice(0, 200)}</code></td>
                      <td class="actions">
                        <form method="post" action="/admin/tasks/dead/${letter.id}/retry">
                          <button type="submit">Retry</button>
                        </form>
                        <form method="post" action="/admin/tasks/dead/${letter.id}/discard">
                          <button type="submit" class="secondary">Discard</button>
                        </form>
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>`;
    return reply
      .type('text/html; charset=utf-8')
      .send(page({ title: 'Background tasks · Ballast', body, chrome: chromeOf(request) }));
  });

  for (const action of ['retry', 'discard'] as const) {
    app.post(
      `/admin/tasks/dead/:id/${action}`,
      { schema: { hide: true, params: deadLetterParams } },
      async (request, reply) => {
        const done =
          action === 'retry'
            ? await tasks.retryDeadLetter(request.params.id)
            : await tasks.discardDeadLetter(request.params.id);
        if (!done) throw new AppError('not_found', 'tasks.dead_letter_not_found', 'No such dead letter');
        return reply.redirect('/admin/tasks', 303);
      },
    );
  }

  app.get(
    '/admin/api/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Operator: queues by state and the dead letters (platform admins; anyone locally in development)',
        response: { 200: tasksOverviewAnswer },
      },
    },
    async () => ({
      queues: await tasks.stats(),
      deadLetters: await tasks.deadLetters(),
    }),
  );
}
