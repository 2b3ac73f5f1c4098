import type { Access } from './request-context.ts';

/**
 * What /docs (OpenAPI) says beyond each route's own schemas: how to authenticate, the security
 * schemes "Authorize" uses, and the RFC 9457 problem answers every operation can give.
 */

/** The first lines of the API documentation: errors and authentication. */
export const API_DESCRIPTION = `Ballast's HTTP API: the platform's (accounts, payments, notifications, files) and each app's.

## Authentication
- **In the browser** the session is the \`ballast_session\` cookie (HttpOnly), set by sign-in. Every
  write (POST, PUT, PATCH, DELETE) made with the cookie must also send the \`x-csrf-token\` header
  with the value of the readable \`ballast_csrf\` cookie; a write without it is refused with 403.
- **API clients** send \`Authorization: Bearer <token>\`. Get a token from
  \`POST /api/auth/sign-in\` with \`{"email": "...", "password": "..."}\`: the answer's \`token\`
  (an EdDSA-signed JWT, verifiable with \`/.well-known/jwks.json\`) is valid until \`expiresAt\`.
  Bearer requests need no CSRF header. Sign-out (\`POST /api/auth/sign-out\`) revokes every token.
- In this page, **Authorize** takes the bearer token (paste the \`token\` only, without "Bearer").

## Errors
Every error is an RFC 9457 problem (\`application/problem+json\`) with a stable \`code\`, a
\`detail\` naming the problem, the \`requestId\`, and for invalid input the \`errors\` per field.
A 429 carries \`Retry-After\` (seconds).`;

/** The RFC 9457 problem document, as every error is answered. */
const problemSchema = {
  type: 'object' as const,
  required: ['type', 'title', 'status', 'detail', 'code', 'instance', 'requestId'],
  properties: {
    type: { type: 'string' as const, examples: ['urn:ballast:problem:invalid_input'] },
    title: { type: 'string' as const, examples: ['Invalid input'] },
    status: { type: 'integer' as const, examples: [400] },
    detail: { type: 'string' as const, examples: ['body.email: Invalid email address'] },
    code: { type: 'string' as const, description: 'Stable and machine-readable', examples: ['http.invalid_input'] },
    instance: { type: 'string' as const, examples: ['/api/auth/register'] },
    requestId: { type: 'string' as const, examples: ['5d0f6c1e-8a1b-4c5e-9d3f-2b7a6e4c1f00'] },
    errors: {
      type: 'array' as const,
      description: 'Each invalid field (validation errors only)',
      items: {
        type: 'object' as const,
        required: ['field', 'message'],
        properties: {
          field: { type: 'string' as const, examples: ['body.email'] },
          message: { type: 'string' as const },
        },
      },
    },
    details: { type: 'object' as const, additionalProperties: true },
  },
};

/** The problem answers, by status: what each means. */
export const PROBLEM_RESPONSES = {
  '400': ['BadRequest', 'Invalid input: the body, query or path failed validation (`errors` lists each field)'],
  '401': ['Unauthenticated', 'No valid session or bearer token: sign in first'],
  '403': ['Forbidden', 'Signed in but not allowed (a missing role, or a cookie write without `x-csrf-token`)'],
  '404': ['NotFound', 'No such route or object (objects of other users answer 404 too)'],
  '409': ['Conflict', 'The state does not allow it (already done, taken, or changed meanwhile)'],
  '429': ['TooManyRequests', 'Rate limited: retry after `Retry-After` seconds'],
} as const;

type Status = keyof typeof PROBLEM_RESPONSES;

/** The components /docs shares: the problem schema and answers, and the two security schemes. */
export function apiComponents() {
  return {
    schemas: { Problem: problemSchema },
    responses: Object.fromEntries(
      Object.values(PROBLEM_RESPONSES).map(([name, description]) => [
        name,
        {
          description,
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          ...(name === 'TooManyRequests'
            ? { headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' as const } } } }
            : {}),
        },
      ]),
    ),
    securitySchemes: {
      bearerAuth: {
        type: 'http' as const,
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'The `token` from POST /api/auth/sign-in',
      },
      cookieAuth: {
        type: 'apiKey' as const,
        in: 'cookie' as const,
        name: 'ballast_session',
        description: 'The browser session; writes also need the `x-csrf-token` header (the `ballast_csrf` cookie)',
      },
    },
  };
}

/** Either scheme authenticates: a bearer token, or the session cookie. */
export const API_SECURITY: Record<string, string[]>[] = [{ bearerAuth: [] }, { cookieAuth: [] }];

interface Operation {
  security?: unknown;
  responses?: Record<string, unknown>;
  requestBody?: unknown;
  parameters?: unknown[];
}

/**
 * Adds to every operation the problem answers it can give (400 where it takes input, 401 and 403
 * where it needs a user, 404 and 429 always, 409 on writes) and, on public operations, an empty
 * `security` (no sign-in needed). `accessOf` answers a route's access by method and OpenAPI path.
 */
export function documentProblems<Document extends object>(
  document: Document,
  accessOf: (method: string, path: string) => Access | undefined,
): Document {
  const paths = (document as { paths?: Record<string, Record<string, unknown> | undefined> }).paths ?? {};
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, value] of Object.entries(item ?? {})) {
      if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
      const operation = value as Operation;
      const access = accessOf(method.toUpperCase(), path);
      const isPublic = access === 'public';
      const takesInput = operation.requestBody !== undefined || (operation.parameters?.length ?? 0) > 0;
      const statuses: Status[] = [
        ...(takesInput ? (['400'] as const) : []),
        ...(isPublic ? [] : (['401', '403'] as const)),
        '404',
        ...(method === 'get' ? [] : (['409'] as const)),
        '429',
      ];
      operation.responses ??= {};
      for (const status of statuses) {
        operation.responses[status] ??= { $ref: `#/components/responses/${PROBLEM_RESPONSES[status][0]}` };
      }
      if (isPublic) operation.security = [];
    }
  }
  return document;
}
