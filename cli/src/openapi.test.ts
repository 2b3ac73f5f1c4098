import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBallast, type TestBallast } from '@ballast/platform/testing';
import { apps } from './apps.ts';

interface Operation {
  readonly summary?: string;
  readonly responses?: Record<string, { readonly content?: Record<string, { readonly schema?: object }> }>;
}
interface OpenApiDocument {
  readonly info: { readonly title: string; readonly description?: string };
  readonly paths: Record<string, Record<string, Operation & { readonly security?: unknown[] }>>;
  readonly security?: readonly Record<string, unknown>[];
  readonly components?: {
    readonly securitySchemes?: Record<string, Record<string, unknown>>;
    readonly responses?: Record<string, { readonly content?: Record<string, { readonly schema?: { $ref?: string } }> }>;
    readonly schemas?: Record<string, { readonly required?: readonly string[] }>;
  };
}

const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

/** What a documented operation fails to declare about its success answers, or undefined when nothing. */
function missingSuccessSchema(operation: Operation): string | undefined {
  const success = Object.entries(operation.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
  if (success.length === 0) return 'no 2xx response';
  for (const [status, response] of success) {
    // 204 No Content has no body to describe.
    if (status === '204') continue;
    const schemas = Object.values(response.content ?? {}).map((media) => media.schema);
    if (schemas.length === 0 || schemas.some((schema) => schema === undefined || Object.keys(schema).length === 0)) {
      return `${status} without a schema`;
    }
  }
  return undefined;
}

describe('missingSuccessSchema', () => {
  it.each([
    [{ responses: { 200: { content: { 'application/json': { schema: { type: 'object' } } } } } }, undefined],
    [{ responses: { 204: {} } }, undefined],
    [{ responses: { 200: { content: { 'text/csv': { schema: { type: 'string' } } } } } }, undefined],
    [{ responses: { 200: {} } }, '200 without a schema'],
    [{ responses: { 201: { content: { 'application/json': {} } } } }, '201 without a schema'],
    [{ responses: { 200: { content: { 'application/json': { schema: {} } } } } }, '200 without a schema'],
    [{ responses: { 503: { content: { 'application/json': { schema: { type: 'object' } } } } } }, 'no 2xx response'],
    [{}, 'no 2xx response'],
  ])('judges %j as %s', (operation, expected) => {
    expect(missingSuccessSchema(operation as Operation)).toBe(expected);
  });
});

describe('API documentation of every app', () => {
  let server: TestBallast;

  beforeAll(async () => {
    server = await startTestBallast({ apps });
  });

  afterAll(async () => {
    await server.close();
  });

  it('declares a schema for every operation’s success answer in /docs/openapi.json', async () => {
    const response = await fetch(`${server.url}/docs/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as OpenApiDocument;
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => methods.has(method))
        .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
    );
    // The document holds the platform's API and the apps' (so an empty one cannot pass).
    expect(operations.map((entry) => entry.name)).toEqual(
      expect.arrayContaining(['GET /api/auth/me', 'GET /api/payments/{app}/packs', 'POST /api/coach/calls']),
    );
    const missing = operations.flatMap(({ name, operation }) => {
      const problem = missingSuccessSchema(operation);
      return problem === undefined ? [] : [`${name}: ${problem}`];
    });
    expect(missing).toEqual([]);
  });

  it('documents authentication (bearer and cookie schemes, required globally) and the problem answers', async () => {
    const document = (await (await fetch(`${server.url}/docs/openapi.json`)).json()) as OpenApiDocument;
    expect(document.info.title).toBe('Ballast API');
    expect(document.info.description).toContain('Authorization: Bearer <token>');
    expect(document.info.description).toContain('x-csrf-token');
    expect(document.components?.securitySchemes).toMatchObject({
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      cookieAuth: { type: 'apiKey', in: 'cookie', name: 'ballast_session' },
    });
    expect(document.security).toEqual([{ bearerAuth: [] }, { cookieAuth: [] }]);
    expect(document.components?.schemas?.['Problem']?.required).toEqual(
      expect.arrayContaining(['type', 'title', 'status', 'detail', 'code', 'requestId']),
    );
    const problem = (name: string) =>
      document.components?.responses?.[name]?.content?.['application/problem+json']?.schema?.$ref;
    for (const name of ['BadRequest', 'Unauthenticated', 'Forbidden', 'NotFound', 'Conflict', 'TooManyRequests']) {
      expect([name, problem(name)]).toEqual([name, '#/components/schemas/Problem']);
    }
    // Every operation references the problem answers; public ones need no sign-in.
    const refOf = (operation: Operation, status: string) =>
      (operation.responses?.[status] as { $ref?: string } | undefined)?.$ref;
    const register = document.paths['/api/auth/register']!['post']!;
    expect(register.security).toEqual([]);
    expect(refOf(register, '400')).toBe('#/components/responses/BadRequest');
    expect(refOf(register, '429')).toBe('#/components/responses/TooManyRequests');
    const rename = document.paths['/api/auth/me']!['patch']!;
    expect(rename.security).toBeUndefined();
    for (const status of ['400', '401', '403', '404', '409', '429'])
      expect(refOf(rename, status)).toMatch(/^#\/components/);
    const missing = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => methods.has(method) && method !== 'head' && method !== 'options')
        .filter(([, operation]) => refOf(operation, '404') === undefined || refOf(operation, '429') === undefined)
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(missing).toEqual([]);
    // Examples read like data, not like a regular expression's output.
    const body = JSON.stringify(document.paths['/api/auth/register']);
    expect(body).toContain('asha@example.com');
  });

  it('titles the Swagger UI page "Ballast API"', async () => {
    const page = await (await fetch(`${server.url}/docs/`)).text();
    expect(page).toContain('<title>Ballast API</title>');
  });
});
