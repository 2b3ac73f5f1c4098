import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const projectRoot = path.resolve(import.meta.dirname, '../..');

describe('bench/tasks', () => {
  it('ends its output with one JSON object of its figures under --json, never running more tasks than the concurrency', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        path.join(projectRoot, 'bench/tasks/run.ts'),
        ...['--tasks', '300', '--latency-samples', '5', '--concurrency', '4', '--rounds', '1', '--json'],
      ],
      {
        cwd: projectRoot,
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: process.env['HOME'] ?? '',
          BENCH_DATABASE_URL: inject('adminDatabaseUrl'),
        },
        maxBuffer: 10 * 2 ** 20,
      },
    );
    const figures = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      systems: { max_running: number }[];
      max_running: number;
    };
    expect(figures).toMatchObject({
      bench: 'tasks',
      tasks: 300,
      autovacuum: expect.stringMatching(/^(on|off)$/),
      drain_vs_graphile: expect.any(Number),
      p50_ms: expect.any(Number),
      max_running: expect.any(Number),
      machine: { cores: expect.any(Number), model: expect.any(String) },
      load_before: expect.stringMatching(/^\d+\.\d+ \d+\.\d+ \d+\.\d+$/),
      load_after: expect.stringMatching(/^\d+\.\d+ \d+\.\d+ \d+\.\d+$/),
    });
    expect(figures.systems).toHaveLength(3);
    for (const system of figures.systems) expect(system.max_running).toBeLessThanOrEqual(4);
    expect(figures.max_running).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
