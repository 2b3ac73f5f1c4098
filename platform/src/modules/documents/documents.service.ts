import { Piscina } from 'piscina';
import client from 'prom-client';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import type { Storage } from '#platform/modules/storage/storage.service.ts';
import * as documents from './documents.repository.ts';
import type { DocumentRow } from './documents.repository.ts';
import type { ParseInput, ParseOutcome } from './parse-worker.ts';

/** Where a document stands. */
export type DocumentState = 'queued' | 'parsing' | 'ready' | 'no_text' | 'failed' | 'manual';

/** Why a document could not be read. */
export type FailureReason = 'encrypted' | 'unreadable' | 'too_large' | 'timeout' | 'memory' | 'unsupported';

/** A document as callers see it. */
export interface ParsedDocument {
  readonly id: string;
  readonly fileId: string;
  readonly ownerId: string;
  readonly state: DocumentState;
  /** 0 to 100. */
  readonly progress: number;
  readonly reason: FailureReason | null;
  /** What to tell the user, for every state. */
  readonly message: string;
  /** The extracted (or typed) text; null until there is some. */
  readonly text: string | null;
  readonly pages: number | null;
  /** The text was cut at the limit. */
  readonly truncated: boolean;
}

const messages: Record<DocumentState, string> = {
  queued: 'Waiting to be read',
  parsing: 'Reading the file',
  ready: 'Text extracted',
  no_text: 'No text found in this file (a scanned document?); type or paste its content instead',
  failed: 'Could not read this file; type or paste its content instead',
  manual: 'Text typed in by hand',
};

const reasons: Record<FailureReason, string> = {
  encrypted: 'it is protected by a password',
  unreadable: 'it is damaged or not what its type says',
  too_large: 'it is too large to read',
  timeout: 'reading it took too long',
  memory: 'reading it needed too much memory',
  unsupported: 'this kind of file cannot be read',
};

/** Characters of text kept per document. */
const MAX_TEXT_CHARS = 2_000_000;

function toDocument(row: DocumentRow): ParsedDocument {
  const state = row.state as DocumentState;
  const reason = row.reason as FailureReason | null;
  return {
    id: row.id,
    fileId: row.file_id,
    ownerId: row.owner_id,
    state,
    progress: row.progress,
    reason,
    message:
      state === 'failed' && reason !== null
        ? `Could not read this file: ${reasons[reason]}. Type or paste its content instead`
        : messages[state],
    text: row.text,
    pages: row.pages,
    truncated: row.truncated,
  };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DocumentsOptions {
  readonly database: Database;
  readonly storage: Storage;
  readonly settings: {
    readonly timeoutMs: number;
    readonly memoryMb: number;
    readonly maxBytes: number;
    readonly workers: number;
  };
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly enqueueParse: (id: string, tx: Tx | undefined) => Promise<void>;
}

/** The documents service: parse requests, the sandboxed pool, the manual fallback. */
export type Documents = ReturnType<typeof createDocuments>;

/** The outcome of one run in the pool, including the worker being killed. */
export type PoolOutcome = ParseOutcome | { readonly outcome: 'timeout' } | { readonly outcome: 'memory' };

/**
 * A pool of parsing threads: each run has a heap limit (`resourceLimits`) and a wall-time limit
 * (its signal aborts it, which terminates the thread); a thread that dies is replaced.
 */
export function createParserPool(settings: DocumentsOptions['settings']) {
  const pool = new Piscina<ParseInput, ParseOutcome>({
    filename: new URL('./parse-worker.ts', import.meta.url).href,
    minThreads: 0,
    maxThreads: settings.workers,
    idleTimeout: 30_000,
    resourceLimits: {
      maxOldGenerationSizeMb: settings.memoryMb,
      maxYoungGenerationSizeMb: Math.min(64, Math.max(8, Math.floor(settings.memoryMb / 8))),
      stackSizeMb: 4,
    },
  });
  return {
    async run(input: ParseInput): Promise<PoolOutcome> {
      try {
        return await pool.run(input, { signal: AbortSignal.timeout(settings.timeoutMs) });
      } catch (error) {
        const code = (error as { code?: string }).code;
        const name = (error as { name?: string }).name;
        if (code === 'ERR_WORKER_OUT_OF_MEMORY') return { outcome: 'memory' };
        if (name === 'AbortError' || name === 'TimeoutError') return { outcome: 'timeout' };
        throw error;
      }
    },
    close: () => pool.close({ force: true }),
  };
}

/** Creates the documents service. */
export function createDocuments(options: DocumentsOptions) {
  const { database, storage, settings, log } = options;
  const db = database.view<DB>('platform');
  let pool: ReturnType<typeof createParserPool> | undefined;
  const parsed = new client.Counter({
    name: 'documents_parsed_total',
    help: 'Documents parsed, by outcome (ready, no_text, encrypted, unreadable, too_large, timeout, memory, unsupported)',
    labelNames: ['outcome'] as const,
    registers: [options.metrics.registry],
  });

  async function own(app: string, id: string): Promise<DocumentRow | undefined> {
    if (!uuid.test(id)) return undefined;
    const row = await documents.findDocument(db, id);
    return row?.app === app ? row : undefined;
  }

  return {
    /**
     * Asks for the text of one of the app's stored files, owned by `ownerId`: a document is
     * created `queued` and a task parses it (never inside the request). Pass `{ tx }` to commit
     * the request with yours.
     */
    async request(app: string, fileId: string, ownerId: string, tx?: Tx): Promise<ParsedDocument> {
      const file = await storage.get(fileId);
      if (file === undefined || file.app !== app || file.ownerId !== ownerId || file.status === 'deleting') {
        throw new AppError('not_found', 'storage.not_found', 'No such file');
      }
      const work = async (handle: Tx) => {
        const row = await documents.insertDocument(handle.view<DB>('platform'), { app, fileId, ownerId });
        await options.enqueueParse(row.id, handle);
        return toDocument(row);
      };
      return tx === undefined ? database.transaction(work) : work(tx);
    },

    /** One of the app's documents, or undefined. */
    async get(app: string, id: string): Promise<ParsedDocument | undefined> {
      const row = await own(app, id);
      return row === undefined ? undefined : toDocument(row);
    },

    /** The manual fallback: the owner types or pastes the document's content. */
    async provideText(app: string, id: string, ownerId: string, text: string): Promise<ParsedDocument> {
      const trimmed = text.trim();
      if (trimmed.length === 0) throw new AppError('invalid_input', 'documents.empty_text', 'Type or paste some text');
      if (trimmed.length > MAX_TEXT_CHARS) {
        throw new AppError('invalid_input', 'documents.text_too_long', `At most ${MAX_TEXT_CHARS} characters`);
      }
      const row = uuid.test(id) ? await documents.setManualText(db, id, app, ownerId, trimmed) : undefined;
      if (row === undefined) throw new AppError('not_found', 'documents.not_found', 'No such document');
      return toDocument(row);
    },

    /**
     * Parses one document (the task's handler): reads the file (up to DOCUMENTS_MAX_MB), runs the
     * parser in the sandboxed pool, and records text or the reason it could not be read. A file
     * that kills its worker gets a final state; only a failure of our own (storage, database)
     * throws, to be retried.
     */
    async parse(id: string): Promise<ParsedDocument | undefined> {
      const row = await documents.startParsing(db, id);
      if (row === undefined) return undefined;
      const finish = async (result: Parameters<typeof documents.finishParsing>[2], outcome: string) => {
        await documents.finishParsing(db, id, result);
        parsed.inc({ outcome });
        const done = await documents.findDocument(db, id);
        return done === undefined ? undefined : toDocument(done);
      };
      const fail = (reason: FailureReason) =>
        finish({ state: 'failed', reason, text: null, pages: null, truncated: false }, reason);

      const { file, stream } = await storage.read(row.file_id);
      if (file.size > settings.maxBytes) {
        stream.destroy();
        return fail('too_large');
      }
      const bytes = new Uint8Array(file.size);
      let offset = 0;
      for await (const chunk of stream) {
        const part = chunk as Buffer;
        if (offset + part.length > bytes.length) {
          stream.destroy();
          return fail('unreadable');
        }
        bytes.set(part, offset);
        offset += part.length;
      }
      await documents.setProgress(db, id, 40);
      pool ??= createParserPool(settings);
      const outcome = await pool.run({
        bytes: bytes.subarray(0, offset),
        name: file.name,
        maxExpandedBytes: Math.max(settings.maxBytes * 8, 64 * 1024 * 1024),
        maxTextChars: MAX_TEXT_CHARS,
      });
      switch (outcome.outcome) {
        case 'text':
          return finish(
            { state: 'ready', reason: null, text: outcome.text, pages: outcome.pages, truncated: outcome.truncated },
            'ready',
          );
        case 'no_text':
          return finish(
            { state: 'no_text', reason: null, text: null, pages: outcome.pages, truncated: false },
            'no_text',
          );
        case 'unreadable':
          log.info({ document: id, detail: outcome.detail.slice(0, 200) }, 'document could not be read');
          return fail('unreadable');
        case 'too_large':
          return fail('too_large');
        case 'encrypted':
        case 'timeout':
        case 'memory':
        case 'unsupported':
          return fail(outcome.outcome);
      }
    },

    /** Stops the parsing threads. */
    async close(): Promise<void> {
      await pool?.close();
      pool = undefined;
    },
  };
}
