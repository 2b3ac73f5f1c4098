import { createHash } from 'node:crypto';
import pg from 'pg';

export interface PreparingOptions {
  /** Most texts with parameters one process prepares (each connection holds its own copy). */
  readonly withParameters: number;
  /** Most texts without parameters: they vary more (pg-boss writes a claim's batch size into its text). */
  readonly withoutParameters: number;
  /**
   * Leaves texts whose `*` expands a table's columns (`select * from t`, `"t".*`, `returning *`)
   * unprepared. A prepared statement's result columns are fixed when it is prepared: after a
   * migration adds a column (another node's, in a rolling deploy) PostgreSQL refuses it with
   * "cached plan must not change result type". Statements that name their columns are unaffected.
   */
  readonly skipStar: boolean;
}

/** Longer texts are never prepared nor counted (a multi-row `VALUES` list of thousands of rows). */
const LONGEST = 16_384;
/** A text is prepared from its `PREPARE_AFTER`-th use: one-off statements never are. */
const PREPARE_AFTER = 2;
/** Texts seen fewer times than that, remembered to count them (forgotten all at once when full). */
const MOST_COUNTED = 1024;
/**
 * A star that expands a table's columns: `* from <table>` (not `* from unnest(…)` or a
 * subquery), `"t".*`, or `returning *`.
 */
const TABLE_STAR = /\*\s+from\s+(?![\w.]+\s*\(|\()|(?:^|[\s,(])(?:"\w+"|\w+)\.\*|\breturning\s+\*/i;

type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * A `pg.Client` class, for a pool's `Client` option, that runs repeated statement texts as named
 * prepared statements: PostgreSQL parses and plans each once per connection instead of at every
 * call (decision 030). pg-boss's statements are long CTEs (its insert is 3 KB of SQL) whose
 * planning cost more than running them: enqueue→start went from 2.7–3.0 ms to 1.8–1.9 ms.
 *
 * Only single statements with a string text are prepared (a text holding `;` may be several, which
 * cannot be prepared), from their second use, at most a bounded number per process, so texts
 * that vary (an `in` list's length, a claim's `LIMIT`) cannot grow the server's memory without
 * end; the rest run as before. The name is a hash of the text, so two texts never share one, and
 * pg prepares a name on each connection at its first use there (a new connection prepares again).
 */
export function createPreparingClient(options: PreparingOptions): typeof pg.Client {
  const names = new Map<string, string>();
  const counts = new Map<string, number>();
  let withParameters = 0;
  let withoutParameters = 0;

  function nameFor(text: string, parameterized: boolean): string | undefined {
    const known = names.get(text);
    if (known !== undefined || text.length > LONGEST) return known;
    if (parameterized ? withParameters >= options.withParameters : withoutParameters >= options.withoutParameters) {
      return undefined;
    }
    const count = (counts.get(text) ?? 0) + 1;
    if (count < PREPARE_AFTER) {
      if (counts.size >= MOST_COUNTED) counts.clear();
      counts.set(text, count);
      return undefined;
    }
    counts.delete(text);
    // Checked once per text, on the use that would prepare it; never again once it was refused.
    if (text.includes(';') || (options.skipStar && TABLE_STAR.test(text))) {
      counts.set(text, Number.NEGATIVE_INFINITY);
      return undefined;
    }
    const name = `ballast_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
    if (parameterized) withParameters++;
    else withoutParameters++;
    return name;
  }

  class PreparingClient extends pg.Client {}
  // On the prototype, calling pg's own `query` as it is at each call (what a spy on it sees).
  const preparing = function (this: pg.Client, config: unknown, values?: unknown, callback?: unknown): unknown {
    const query = Reflect.get(pg.Client.prototype, 'query') as Query;
    if (typeof config === 'string' && typeof values !== 'function') {
      const name = nameFor(config, Array.isArray(values) && values.length > 0);
      if (name !== undefined) return query.call(this, { name, text: config, values }, callback);
    }
    return query.call(this, config, values, callback);
  };
  Object.defineProperty(PreparingClient.prototype, 'query', { value: preparing, writable: true, configurable: true });
  return PreparingClient;
}
