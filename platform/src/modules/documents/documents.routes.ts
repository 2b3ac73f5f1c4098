import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as contract from '@ballast/contracts/documents';
import { z } from 'zod';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Documents } from './documents.service.ts';

const appParams = z.object({ app: z.string().max(40) });
const documentParams = appParams.extend({ id: z.string().max(60) });

/**
 * Documents for their owners: ask for a stored file's text (parsed by a task), follow its state
 * and progress, and type the text in when the file could not be read.
 */
export async function documentsRoutes(
  server: FastifyInstance,
  options: { readonly documents: Documents; readonly apps: ReadonlySet<string> },
): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  const known = (name: string): string => {
    if (!options.apps.has(name)) throw new AppError('not_found', 'documents.unknown_app', `No app ${name}`);
    return name;
  };
  const mine = async (appName: string, id: string, userId: string) => {
    const document = await options.documents.get(known(appName), id);
    if (document === undefined || document.ownerId !== userId) {
      throw new AppError('not_found', 'documents.not_found', 'No such document');
    }
    return document;
  };

  app.post(
    '/api/documents/:app',
    {
      config: { access: 'user' },
      schema: {
        tags: ['documents'],
        summary: 'Read the text of one of your uploaded files (parsed in the background)',
        params: appParams,
        body: contract.requestBody,
        response: { 202: contract.documentAnswer },
      },
    },
    async (request, reply) =>
      reply.status(202).send({
        document: await options.documents.request(known(request.params.app), request.body.fileId, request.user!.id),
      }),
  );

  app.get(
    '/api/documents/:app/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['documents'],
        summary: 'A document’s state, progress and text',
        params: documentParams,
        response: { 200: contract.documentAnswer },
      },
    },
    async (request) => ({ document: await mine(request.params.app, request.params.id, request.user!.id) }),
  );

  app.put(
    '/api/documents/:app/:id/text',
    {
      config: { access: 'user' },
      schema: {
        tags: ['documents'],
        summary: 'Type or paste a document’s content (when the file could not be read)',
        params: documentParams,
        body: contract.textBody,
        response: { 200: contract.documentAnswer },
      },
    },
    async (request) => {
      await mine(request.params.app, request.params.id, request.user!.id);
      return {
        document: await options.documents.provideText(
          request.params.app,
          request.params.id,
          request.user!.id,
          request.body.text,
        ),
      };
    },
  );
}
