import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError, errorKinds, type ErrorKind, type FieldError } from '#platform/kernel/errors/errors.ts';
import { databaseUnavailable, isDatabaseUnavailable } from '#platform/kernel/db/connection-errors.ts';
import { html, page } from './html.ts';
import { chromeOf } from './web-pages.ts';

/** An RFC 9457 problem document, as Ballast answers every error. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance: string;
  requestId: string;
  errors?: readonly FieldError[];
  details?: Record<string, unknown>;
}

const titles: Record<ErrorKind, string> = {
  invalid_input: 'Invalid input',
  unauthenticated: 'Authentication required',
  payment_failed: 'Payment failed',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  internal: 'Internal server error',
  unavailable: 'Service unavailable',
};

function kindForStatus(status: number): ErrorKind {
  const match = (Object.entries(errorKinds) as [ErrorKind, number][]).find(([, code]) => code === status);
  if (match !== undefined) return match[0];
  if (status === 405) return 'not_found';
  if (status === 408 || status === 504) return 'unavailable';
  return status >= 500 ? 'internal' : 'invalid_input';
}

/**
 * Turns anything thrown while handling a request into an `AppError` the caller may see. A
 * database that cannot be reached is `unavailable` (503, `database.unavailable`, `Retry-After`):
 * the request was fine and may be retried. Other unknown errors become `internal`, their
 * message replaced.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) return databaseUnavailable(error);
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = (error as FastifyError).validationContext ?? 'body';
    const errors = error.validation.map((issue) => ({
      field: [context, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
      message: issue.message ?? 'is invalid',
    }));
    return new AppError('invalid_input', 'http.invalid_input', 'The request is invalid; see errors for each field', {
      errors,
    });
  }
  if (isResponseSerializationError(error)) {
    return new AppError('internal', 'http.internal', 'Internal server error', { cause: error });
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const kind = kindForStatus(status);
    const code = `http.${(fastifyError.code ?? kind).toLowerCase().replace(/^fst_err_/, '')}`;
    return new AppError(kind, code, fastifyError.message ?? titles[kind], { cause: error });
  }
  if (status === 503) {
    return new AppError('unavailable', 'http.unavailable', 'Service unavailable', { cause: error });
  }
  return new AppError('internal', 'http.internal', 'Internal server error', { cause: error });
}

/** Builds the problem document for an error, for this request. */
export function toProblem(error: AppError, request: FastifyRequest): Problem {
  const status = errorKinds[error.kind];
  return {
    type: `urn:ballast:problem:${error.kind}`,
    title: titles[error.kind],
    status,
    detail: error.message,
    code: error.code,
    instance: request.url.split('?')[0] ?? request.url,
    requestId: request.id,
    ...(error.errors === undefined ? {} : { errors: error.errors }),
    ...(error.details === undefined ? {} : { details: error.details }),
  };
}

/** True when the client is a browser navigating to a page rather than calling the API. */
export function wantsHtml(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const accept = request.headers.accept ?? '';
  if (!accept.includes('text/html')) return false;
  const htmlAt = accept.indexOf('text/html');
  const jsonAt = accept.indexOf('application/json');
  return jsonAt === -1 || htmlAt < jsonAt;
}

/** Answers an error as `application/problem+json`, or as an HTML page for a browser. */
export function sendError(error: AppError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = toProblem(error, request);
  for (const [name, value] of Object.entries(error.headers ?? {})) void reply.header(name, value);
  void reply.code(problem.status);
  if (wantsHtml(request)) {
    return reply.type('text/html; charset=utf-8').send(errorPage(problem, request));
  }
  return reply.type('application/problem+json; charset=utf-8').send(JSON.stringify(problem));
}

function errorPage(problem: Problem, request: FastifyRequest): string {
  const heading = problem.status === 404 ? 'This page does not exist' : problem.title;
  const explanation =
    problem.status === 404
      ? 'The address may be mistyped, or the page has moved.'
      : problem.status >= 500
        ? 'Something went wrong on our side. It has been logged; please try again in a moment.'
        : problem.detail;
  return page({
    chrome: chromeOf(request),
    title: `${problem.status} ${problem.title} · Ballast`,
    body: html`<section class="error-page">
      <p class="error-status">${problem.status}</p>
      <h1>${heading}</h1>
      <p>${explanation}</p>
      <p class="muted">Request id <code>${problem.requestId}</code></p>
      <p><a class="button" href="/">Back to the home page</a></p>
    </section>`,
  });
}

/** The one error handler: logs what must be logged, answers a problem. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const appError = toAppError(error);
  if (appError.kind === 'internal') {
    request.log.error({ err: error }, 'request failed');
  } else if (appError.kind === 'unavailable') {
    request.log.warn({ err: error }, appError.message);
  }
  return sendError(appError, request, reply);
}

/** Unmatched routes: a problem for API clients, a real 404 page for browsers. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? request.url;
  return sendError(
    new AppError('not_found', 'http.route_not_found', `No route for ${request.method} ${path}`),
    request,
    reply,
  );
}
