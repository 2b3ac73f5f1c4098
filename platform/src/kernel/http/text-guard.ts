import type { FastifyInstance } from 'fastify';
import { AppError, type FieldError } from '#platform/kernel/errors/errors.ts';

const MAX_REPORTED = 20;

function problemOf(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (!text.isWellFormed()) return 'contains an unpaired UTF-16 surrogate';
  return undefined;
}

/** Bytes and streams (raw webhook bodies, uploads) are data, not text: they are not looked into. */
function isBinary(value: object): boolean {
  return (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    typeof (value as { pipe?: unknown }).pipe === 'function'
  );
}

/**
 * The places in `value` (strings, array items, object values and keys) holding text
 * PostgreSQL refuses: a NUL character, which neither text nor jsonb can hold, or an unpaired
 * surrogate, whose escape jsonb rejects. Each is a field such as `body.items.0.title`, under
 * `root`; at most 20 are listed. Walks without recursion, so a deeply nested body cannot
 * overflow the stack.
 */
export function findUnstorableText(value: unknown, root: string): FieldError[] {
  const found: FieldError[] = [];
  const pending: [unknown, string][] = [[value, root]];
  while (pending.length > 0 && found.length < MAX_REPORTED) {
    const [current, field] = pending.pop()!;
    if (typeof current === 'string') {
      const problem = problemOf(current);
      if (problem !== undefined) found.push({ field, message: problem });
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) pending.push([current[index], `${field}.${index}`]);
    } else if (typeof current === 'object' && current !== null && !isBinary(current)) {
      for (const [key, item] of Object.entries(current).reverse()) {
        const problem = problemOf(key);
        if (problem === undefined) pending.push([item, `${field}.${key}`]);
        else found.push({ field, message: `has a key that ${problem}` });
      }
    }
  }
  return found;
}

/**
 * Whether `value` holds any text `findUnstorableText` would report: the same walk without
 * building field names, for the common case where there is nothing to report.
 */
export function holdsUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return problemOf(value) !== undefined;
  if (typeof value !== 'object' || value === null) return false;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'string') {
      if (problemOf(current) !== undefined) return true;
    } else if (Array.isArray(current)) {
      for (const item of current as unknown[]) pending.push(item);
    } else if (typeof current === 'object' && current !== null && !isBinary(current)) {
      for (const key in current) {
        if (!Object.hasOwn(current, key)) continue;
        if (problemOf(key) !== undefined) return true;
        pending.push((current as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

/**
 * Refuses, for every route and before any schema or handler sees it, a request whose path
 * parameters, query string or JSON body hold text PostgreSQL cannot store: 400
 * `http.invalid_text`, listing each field, instead of a 500 from the database.
 */
export function registerTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => {
    if (
      !holdsUnstorableText(request.params) &&
      !holdsUnstorableText(request.query) &&
      !holdsUnstorableText(request.body)
    ) {
      done();
      return;
    }
    const errors = [
      ...findUnstorableText(request.params, 'params'),
      ...findUnstorableText(request.query, 'querystring'),
      ...findUnstorableText(request.body, 'body'),
    ];
    if (errors.length === 0) {
      done();
      return;
    }
    done(
      new AppError(
        'invalid_input',
        'http.invalid_text',
        'Text may not contain NUL characters or unpaired surrogates; see errors for each field',
        { errors },
      ),
    );
  });
}
