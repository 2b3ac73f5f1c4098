import { z } from 'zod';
import type { Tx } from '#platform/kernel/db/database.ts';
import { defineTask } from '#platform/kernel/lifecycle/define-task.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { documentsRoutes } from './documents.routes.ts';
import { createDocuments, type Documents, type ParsedDocument } from './documents.service.ts';
import { documentsSettings } from './documents.settings.ts';

export type { ParsedDocument, DocumentState, FailureReason } from './documents.service.ts';

/** Documents as an app sees them: the text of its own stored files. */
export interface DocumentsPort {
  /**
   * Asks for the text of one of the app's stored files, owned by `ownerId`; resolves with the
   * document `queued`. A task parses it in a sandboxed worker; follow it with `get`. Pass
   * `{ tx }` to commit it with your transaction.
   */
  parse(fileId: string, options: { readonly ownerId: string; readonly tx?: Tx }): Promise<ParsedDocument>;
  /** One of the app's documents with its state, progress, message and text, or undefined. */
  get(documentId: string): Promise<ParsedDocument | undefined>;
  /** The manual fallback: the owner's own text for a document that could not be read. */
  provideText(documentId: string, ownerId: string, text: string): Promise<ParsedDocument>;
}

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Text out of untrusted PDF, DOCX and text files, parsed in a sandboxed worker pool. */
    documents: Documents;
  }
  interface AppPorts {
    readonly documents: DocumentsPort;
  }
}

/**
 * Documents: text from stored PDF, DOCX and plain-text/Markdown files, parsed as a task in a
 * worker-thread pool with a heap and a wall-time limit per file; files that cannot be read get a
 * clear state and the owner may type the text instead.
 */
export const documentsModule = defineModule({
  name: 'documents',
  dependsOn: ['storage', 'tasks'],
  settings: documentsSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  create: (ctx, deps) => {
    const parseTask = defineTask({
      name: 'platform.parse-document',
      payload: z.object({ id: z.uuid() }),
      retries: 3,
      retryDelaySeconds: 10,
      timeoutSeconds: Math.ceil(ctx.settings.timeoutMs / 1000) + 120,
      handler: async (payload) => {
        await documents.parse(payload.id);
      },
    });
    const documents = createDocuments({
      database: ctx.database,
      storage: deps.storage,
      settings: ctx.settings,
      log: ctx.log,
      metrics: ctx.metrics,
      enqueueParse: async (id, tx) => {
        await deps.tasks.enqueue(parseTask, { id }, tx === undefined ? {} : { tx });
      },
    });
    return {
      service: documents,
      tasks: [parseTask],
      routes: (server) =>
        server.register(documentsRoutes, { documents, apps: new Set(ctx.apps.map((app) => app.name)) }),
      stop: () => documents.close(),
      forApp: (app) => ({
        parse: (fileId, options) => documents.request(app.name, fileId, options.ownerId, options.tx),
        get: (documentId) => documents.get(app.name, documentId),
        provideText: (documentId, ownerId, text) => documents.provideText(app.name, documentId, ownerId, text),
      }),
    };
  },
});
