/** The browser side of Ballast's HTTP API: JSON in and out, CSRF header on writes, problems as errors. */
import type { z } from '@ballast/contracts';

export const CSRF_COOKIE = 'ballast_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** An RFC 9457 problem the server answered with, or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Validation problems by field name (`email`, `password`). */
  readonly fields: Readonly<Record<string, string>>;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, fields: Record<string, string> = {}, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.details = details;
  }
}

/** Reads one cookie the page may see (the CSRF token is deliberately readable; the session is not). */
export function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

interface Problem {
  title?: string;
  detail?: string;
  code?: string;
  errors?: readonly { field?: string; path?: string; message: string }[];
  details?: unknown;
}

async function problemOf(response: Response): Promise<ApiError> {
  let problem: Problem = {};
  try {
    problem = (await response.json()) as Problem;
  } catch {
    // A proxy's HTML error page: keep the status line.
  }
  const fields: Record<string, string> = {};
  for (const error of problem.errors ?? []) {
    const field = (error.field ?? error.path ?? '').replace(/^\/?body[./]?/, '');
    if (field !== '' && fields[field] === undefined) fields[field] = error.message;
  }
  const message = problem.detail ?? problem.title ?? `The server answered ${response.status} ${response.statusText}`;
  return new ApiError(response.status, problem.code ?? 'http.error', message, fields, problem.details);
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Calls the API. Resolves with the JSON body (undefined for 204), rejects with an `ApiError`.
 * Given the route's answer schema (from `@ballast/contracts` or the app's `shared/`), resolves
 * with the answer parsed by it (timestamps as `Date`s) and rejects an answer that does not fit.
 */
export function api<Schema extends z.ZodType>(
  method: Method,
  path: string,
  body: unknown,
  answer: Schema,
): Promise<z.output<Schema>>;
export function api<T>(method: Method, path: string, body?: unknown): Promise<T>;
export async function api(method: Method, path: string, body?: unknown, answer?: z.ZodType): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') {
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf !== undefined) headers[CSRF_HEADER] = csrf;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return undefined;
  const json: unknown = await response.json();
  if (answer === undefined) return json;
  const parsed = answer.safeParse(json);
  if (!parsed.success) {
    // The page and the server disagree (a deploy in between, or a bug): say so rather than misread it.
    throw new ApiError(
      response.status,
      'http.unexpected_answer',
      'The server answered in a form this page does not understand. Reload the page and try again.',
      {},
      parsed.error.issues,
    );
  }
  return parsed.data;
}

/**
 * A same-origin address to go to next, from `?next=` or `?return=`; anything else falls back.
 * Browsers drop tabs and newlines from an address and read `\` as `/`, so `/%09/evil.example`,
 * `/\evil.example` and `https:evil.example` can all lead off-site: the value is parsed the way the
 * browser will read it, and only the parsed path, query and fragment of a same-origin address
 * are returned, never the raw string. `origin` is the page's own (tests pass one).
 */
export function safeNext(value: string | null, fallback: string, origin: string = location.origin): string {
  if (value === null || value === '') return fallback;
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return fallback;
  }
  // A path that starts with `//` (`/.//evil.example` normalised) would itself read as a host.
  if (url.origin !== origin || url.pathname.startsWith('//')) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
