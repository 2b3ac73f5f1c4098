import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import parseRange from 'range-parser';
import type { Readable } from 'node:stream';
import * as contract from '@ballast/contracts/storage';
import { z } from 'zod';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Access } from '#platform/kernel/http/request-context.ts';
import { accessRefusal, decideAccess } from '#platform/modules/auth/access.ts';
import { attachmentDisposition, servedType, type UseRule } from './file-rules.ts';
import type { Storage } from './storage.service.ts';

/** A use an app declared, with who may upload to it. */
export interface DeclaredUse extends UseRule {
  /** Who may upload (default: the app's default access, else any signed-in user). */
  readonly access?: Access;
}

export interface StorageRoutesOptions {
  readonly storage: Storage;
  /** UPLOAD_LIMIT_BYTES: the most one streamed upload request carries, whatever the use allows. */
  readonly uploadLimitBytes: number;
  /** The uses each app declared, by app then use name. */
  readonly uses: ReadonlyMap<
    string,
    { readonly defaultAccess: Access | undefined; readonly uses: Readonly<Record<string, DeclaredUse>> }
  >;
}

const appParams = z.object({ app: z.string().max(40) });
const useParams = appParams.extend({ use: z.string().max(60) });
const fileParams = appParams.extend({ id: z.string().max(60) });

/**
 * Uploads, links and downloads:
 * - `POST /api/storage/:app/uploads/:use?name=` streams the raw body (any content type) into storage;
 * - `POST /api/storage/:app/direct/:use` and `.../direct/:id/complete`: presigned direct uploads (S3);
 * - `POST /api/storage/:app/files/:id/link`: a short-lived download link for the owner or a grantee;
 * - `DELETE /api/storage/:app/files/:id`: the owner removes an upload not attached to a record;
 * - `GET /api/storage/files/:id?expires=&signature=`: a signed local download (Range supported).
 */
export async function storageRoutes(server: FastifyInstance, options: StorageRoutesOptions): Promise<void> {
  const { storage } = options;
  const app = server.withTypeProvider<ZodTypeProvider>();

  const useOf = (request: FastifyRequest, appName: string, use: string): UseRule => {
    const declared = options.uses.get(appName);
    const rule = declared?.uses[use];
    if (declared === undefined || rule === undefined || !Object.hasOwn(declared.uses, use)) {
      throw new AppError('not_found', 'storage.unknown_use', `No upload "${use}" in app ${appName}`);
    }
    const refusal = accessRefusal(decideAccess(rule.access ?? declared.defaultAccess ?? 'user', request.user));
    if (refusal !== undefined) throw refusal;
    return rule;
  };

  await app.register(async (scope) => {
    // The body is the file: handed over as a stream, never buffered, never subject to BODY_LIMIT_BYTES
    // (the use's own limit is enforced while it streams).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => {
      done(null, payload);
    });
    scope.withTypeProvider<ZodTypeProvider>().post(
      '/api/storage/:app/uploads/:use',
      {
        config: { access: 'user' },
        schema: {
          tags: ['storage'],
          summary: 'Upload a file (the raw request body) for one of an app’s uses',
          params: useParams,
          querystring: z.object({ name: z.string().min(1).max(1000) }),
          response: { 201: contract.fileAnswer },
        },
      },
      async (request, reply) => {
        const declaredRule = useOf(request, request.params.app, request.params.use);
        const rule = { ...declaredRule, maxBytes: Math.min(declaredRule.maxBytes, options.uploadLimitBytes) };
        const body = request.body as Readable | undefined;
        if (body === undefined || body === null) {
          throw new AppError('invalid_input', 'storage.empty', 'Send the file as the request body');
        }
        const declared = Number(request.headers['content-length']);
        try {
          const file = await storage.upload({
            app: request.params.app,
            use: request.params.use,
            rule,
            ownerId: request.user!.id,
            name: request.query.name,
            body,
            ...(Number.isFinite(declared) ? { declaredSize: declared } : {}),
          });
          return reply.status(201).send({ file });
        } catch (error) {
          // The rest of a refused body is not read: close the connection rather than drain it.
          if (!body.readableEnded) reply.header('connection', 'close');
          throw error;
        }
      },
    );
  });

  app.post(
    '/api/storage/:app/direct/:use',
    {
      config: { access: 'user' },
      schema: {
        tags: ['storage'],
        summary: 'Announce a large upload and get a presigned link to send it straight to the bucket (S3 mode)',
        params: useParams,
        body: contract.directUploadBody,
        response: { 201: contract.directUploadAnswer },
      },
    },
    async (request, reply) => {
      const rule = useOf(request, request.params.app, request.params.use);
      const direct = await storage.startDirect({
        app: request.params.app,
        use: request.params.use,
        rule,
        ownerId: request.user!.id,
        ...request.body,
      });
      return reply.status(201).send(direct);
    },
  );

  app.post(
    '/api/storage/:app/direct/:id/complete',
    {
      config: { access: 'user' },
      schema: {
        tags: ['storage'],
        summary: 'Confirm a direct upload once its bytes are in the bucket',
        params: fileParams,
        response: { 200: contract.fileAnswer },
      },
    },
    async (request) => {
      const file = await storage.get(request.params.id);
      if (file === undefined || file.app !== request.params.app || file.ownerId !== request.user!.id) {
        throw new AppError('not_found', 'storage.not_found', 'No such file');
      }
      const rule = useOf(request, file.app, file.use);
      return { file: await storage.completeDirect(file.app, file.id, request.user!.id, rule) };
    },
  );

  app.post(
    '/api/storage/:app/files/:id/link',
    {
      config: { access: 'user' },
      schema: {
        tags: ['storage'],
        summary: 'A short-lived download link (owner or grantee)',
        params: fileParams,
        response: { 200: contract.downloadLink },
      },
    },
    async (request) => storage.link(request.params.app, request.params.id, request.user!.id),
  );

  app.delete(
    '/api/storage/:app/files/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['storage'],
        summary: 'Remove an upload not attached to a record',
        params: fileParams,
        response: { 204: contract.discardAnswer },
      },
    },
    async (request, reply) => {
      await storage.discard(request.params.app, request.params.id, request.user!.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/storage/files/:id',
    {
      config: { access: 'public' },
      schema: {
        tags: ['storage'],
        summary: 'Download a file through a signed, expiring link (local storage); Range requests supported',
        params: z.object({ id: z.string().max(60) }),
        querystring: z.object({ expires: z.coerce.number().int().nonnegative(), signature: z.string().max(100) }),
        response: { 200: contract.downloadAnswer, 206: contract.downloadAnswer, 416: contract.unsatisfiableRange },
      },
    },
    async (request, reply) => {
      const header = request.headers.range;
      const opened = await storage.openLink(
        request.params.id,
        request.query.expires,
        request.query.signature,
        header === undefined
          ? undefined
          : (size) => {
              const ranges = parseRange(size, header, { combine: true });
              if (ranges === -1) return 'unsatisfiable';
              // Malformed, or several ranges: answer the whole file (a server may ignore Range).
              if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return undefined;
              return { start: ranges[0]!.start, end: ranges[0]!.end };
            },
      );
      const file = 'unsatisfiable' in opened ? opened.unsatisfiable : opened.file;
      reply
        .header('content-type', servedType(file.contentType))
        .header('content-disposition', attachmentDisposition(file.name))
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cache-control', 'private, no-store')
        .header('accept-ranges', 'bytes');
      if ('unsatisfiable' in opened) {
        return reply.status(416).header('content-range', `bytes */${file.size}`).send(null);
      }
      if (opened.range === undefined) {
        return reply.header('content-length', file.size).send(opened.stream);
      }
      const { start, end } = opened.range;
      return reply
        .status(206)
        .header('content-range', `bytes ${start}-${end}/${file.size}`)
        .header('content-length', end - start + 1)
        .send(opened.stream);
    },
  );
}
