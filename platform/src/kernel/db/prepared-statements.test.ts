import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@ballast/platform/testing';
import { createPreparingClient } from './prepared-statements.ts';

const options = { withParameters: 128, withoutParameters: 32, skipStar: true };
let database: TestDatabase;
const clients: pg.Client[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  for (const client of clients) await client.end();
  await database.drop();
});

async function connect(Client: typeof pg.Client): Promise<pg.Client> {
  const client = new Client({ connectionString: database.url });
  await client.connect();
  clients.push(client);
  return client;
}

/** What this connection has prepared, read from PostgreSQL itself. */
async function prepared(client: pg.Client): Promise<{ name: string; statement: string }[]> {
  const { rows } = await client.query<{ name: string; statement: string }>(
    'select name, statement from pg_prepared_statements where name like $1 order by name',
    ['ballast\\_%'],
  );
  return rows.filter((row) => !row.statement.includes('pg_prepared_statements'));
}

describe('the preparing client of the database pools', () => {
  it('prepares a repeated statement from its second use, once per connection, and answers as before', async () => {
    const Client = createPreparingClient(options);
    const client = await connect(Client);
    const text = 'select $1::int + 1 as next';
    expect((await client.query(text, [1])).rows).toEqual([{ next: 2 }]);
    expect(await prepared(client)).toEqual([]);
    expect((await client.query(text, [2])).rows).toEqual([{ next: 3 }]);
    expect((await client.query(text, [3])).rows).toEqual([{ next: 4 }]);
    const [statement, ...others] = await prepared(client);
    expect(others).toEqual([]);
    expect(statement?.statement).toBe(text);
    expect(statement?.name).toMatch(/^ballast_[0-9a-f]{24}$/);

    // Another connection of the pool prepares it on its first use there.
    const second = await connect(Client);
    expect((await second.query(text, [41])).rows).toEqual([{ next: 42 }]);
    expect((await prepared(second)).map((row) => row.name)).toEqual([statement?.name]);
  });

  it('leaves several statements in one text alone, and runs them', async () => {
    const client = await connect(createPreparingClient(options));
    for (let run = 0; run < 3; run++) {
      await client.query('create temporary table if not exists t (n int); insert into t values (1)');
    }
    expect((await client.query<{ count: string }>('select count(*) from t')).rows[0]?.count).toBe('3');
    expect(await prepared(client)).toEqual([]);
  });

  it('neither prepares nor remembers a text longer than 16 KiB', async () => {
    const client = await connect(createPreparingClient(options));
    const long = `select $1::int as n -- ${'x'.repeat(17_000)}`;
    for (let run = 0; run < 3; run++) expect((await client.query(long, [run])).rows).toEqual([{ n: run }]);
    expect(await prepared(client)).toEqual([]);
  });

  it('prepares a bounded number of texts without parameters (a claim writes its batch size into its text)', async () => {
    const client = await connect(createPreparingClient(options));
    for (let limit = 1; limit <= 40; limit++) {
      for (let run = 0; run < 2; run++) {
        const text = `select n from generate_series(1, 100) as n limit ${limit}`;
        expect((await client.query(text)).rowCount).toBe(limit);
      }
    }
    expect(await prepared(client)).toHaveLength(32);
  });

  it('leaves selects of * unprepared, so a column added by a migration cannot break them', async () => {
    const client = await connect(createPreparingClient(options));
    await client.query('create table widget (id int primary key)');
    await client.query('insert into widget values (1)');
    const star = 'select * from widget where id = $1';
    const named = 'select id from widget where id = $1';
    // A star over a function's columns is fixed by the statement itself.
    const unnested = 'select * from unnest($1::int[]) as x(n)';
    for (let run = 0; run < 3; run++) {
      await client.query(star, [1]);
      await client.query(named, [1]);
      await client.query(unnested, [[1, 2]]);
    }
    expect((await prepared(client)).map((row) => row.statement).sort()).toEqual([unnested, named].sort());
    // What a rolling deploy's migration does on another node: the table gains a column.
    await client.query('alter table widget add column label text');
    expect((await client.query(star, [1])).rows).toEqual([{ id: 1, label: null }]);
    expect((await client.query(named, [1])).rows).toEqual([{ id: 1 }]);
  });
});
