import { createHash, randomBytes } from 'node:crypto';
import { Readable, Transform, pipeline } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import type { Kysely } from 'kysely';
import client from 'prom-client';
import type { DB } from '#platform/db/platform.db.ts';
import type { Database, Tx } from '#platform/kernel/db/database.ts';
import { AppError } from '#platform/kernel/errors/errors.ts';
import type { Logger } from '#platform/kernel/logging/logger.ts';
import type { Metrics } from '#platform/kernel/metrics/metrics.ts';
import {
  attachmentDisposition,
  checkLink,
  decideType,
  extensionsFor,
  linkKey,
  sanitizeFileName,
  servedType,
  signLink,
  type UseRule,
} from './file-rules.ts';
import * as files from './files.repository.ts';
import type { FileRow } from './files.repository.ts';
import type { BlobStore, ByteRange } from './providers/blob-store.ts';

/** Bytes of a file's start that decide its type (what `file-type` reads at most). */
const HEAD_BYTES = 4100;

/** A stored file as callers see it. */
export interface StoredFile {
  readonly id: string;
  readonly app: string;
  readonly use: string;
  readonly ownerId: string;
  /** The sanitized name it is downloaded as. */
  readonly name: string;
  /** Decided from its bytes, never from what the client said. */
  readonly contentType: string;
  /** In bytes. */
  readonly size: number;
  /** Hex SHA-256 of the content; null until a direct upload has been hashed. */
  readonly sha256: string | null;
  readonly status: 'uploading' | 'stored' | 'attached' | 'deleting';
  /** The app's record it belongs to (`application:42`), once attached. */
  readonly record: string | null;
  readonly createdAt: Date;
}

/** A download link: relative to the site for local storage, absolute for a presigned S3 URL. */
export interface DownloadLink {
  readonly url: string;
  readonly expiresAt: Date;
}

/** What an upload is, before its bytes are read. */
export interface UploadInput {
  readonly app: string;
  readonly use: string;
  readonly rule: UseRule;
  readonly ownerId: string;
  /** The name the client gave (sanitized before use). */
  readonly name: string;
  readonly body: Readable | AsyncIterable<Uint8Array>;
  /** The size the client announced (Content-Length), checked early; the bytes are counted regardless. */
  readonly declaredSize?: number;
}

/** A presigned direct upload to the bucket (S3 mode). */
export interface DirectUpload {
  readonly file: StoredFile;
  readonly url: string;
  readonly method: 'PUT';
  /** Headers the browser must send with the PUT (they are signed). */
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
}

export interface StorageOptions {
  readonly database: Database;
  readonly store: BlobStore;
  readonly settings: {
    readonly linkSeconds: number;
    readonly userQuotaBytes: number;
    readonly orphanHours: number;
    readonly directUploadBytes: number;
  };
  readonly signingSecret: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Enqueues the deletion of files already marked `deleting` (in `tx` when given). */
  readonly enqueuePurge: (ids: readonly string[], tx: Tx | undefined) => Promise<void>;
  /** Enqueues hashing a direct upload (its bytes never passed through this process). */
  readonly enqueueHash: (id: string) => Promise<void>;
}

/** The storage service: the platform's side of every file operation (ports bind it to one app). */
export type Storage = ReturnType<typeof createStorage>;

function toFile(row: FileRow): StoredFile {
  return {
    id: row.id,
    app: row.app,
    use: row.use,
    ownerId: row.owner_id,
    name: row.name,
    contentType: row.content_type,
    size: Number(row.size),
    sha256: row.sha256,
    status: row.status as StoredFile['status'],
    record: row.record,
    createdAt: row.created_at,
  };
}

function newKey(app: string): string {
  const id = randomBytes(16).toString('hex');
  return `${app}/${id.slice(0, 2)}/${id}`;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tooLarge(rule: UseRule): AppError {
  return new AppError(
    'payload_too_large',
    'storage.too_large',
    `The file is larger than ${formatBytes(rule.maxBytes)}`,
    {
      details: { maxBytes: rule.maxBytes },
    },
  );
}

function overQuota(quota: number, used: number): AppError {
  return new AppError(
    'payload_too_large',
    'storage.quota_exceeded',
    `This file does not fit in your storage (${formatBytes(used)} of ${formatBytes(quota)} used)`,
    { details: { quotaBytes: quota, usedBytes: used } },
  );
}

/** A size for people: 1.5 MB, 20 KB. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${+(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 * 1024) return `${+(bytes / 1024 ** 2).toFixed(1)} MB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} bytes`;
}

function notFound(): AppError {
  return new AppError('not_found', 'storage.not_found', 'No such file');
}

/**
 * The first `count` bytes of a stream (fewer when it is shorter), read in paused mode so that what
 * follows stays in the stream: `ended` says whether the stream had nothing more. The bytes read
 * are handed back with `unshift` by the caller when it goes on.
 */
async function readHead(stream: Readable, count: number): Promise<{ head: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < count) {
    const chunk = stream.read() as Buffer | string | null;
    if (chunk !== null) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      length += bytes.length;
      continue;
    }
    // Already over: no event would come.
    if (stream.readableEnded) return { head: Buffer.concat(chunks, length), ended: true };
    if (stream.destroyed) throw stream.errored ?? new Error('the upload was cut off');
    const ended = await new Promise<boolean>((resolve, reject) => {
      const done = (value: boolean | Error) => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        stream.off('error', done);
        stream.off('close', onClose);
        if (value instanceof Error) reject(value);
        else resolve(value);
      };
      const onReadable = () => done(false);
      const onEnd = () => done(true);
      const onClose = () => done(stream.readableEnded ? true : new Error('the upload was cut off'));
      stream.on('readable', onReadable);
      stream.once('end', onEnd);
      stream.once('error', done);
      stream.once('close', onClose);
    });
    if (ended) return { head: Buffer.concat(chunks, length), ended: true };
  }
  return { head: Buffer.concat(chunks, length), ended: false };
}

/** Creates the storage service over a blob store and the platform's tables. */
export function createStorage(options: StorageOptions) {
  const { database, store, settings, log } = options;
  const db = database.view<DB>('platform');
  const key = linkKey(options.signingSecret);
  const uploads = new client.Counter({
    name: 'storage_uploads_total',
    help: 'Uploads by outcome (stored, too_large, type, quota, failed)',
    labelNames: ['outcome'] as const,
    registers: [options.metrics.registry],
  });
  const uploadedBytes = new client.Counter({
    name: 'storage_uploaded_bytes_total',
    help: 'Bytes stored by uploads',
    registers: [options.metrics.registry],
  });

  async function find(id: string): Promise<FileRow | undefined> {
    return uuid.test(id) ? files.findFile(db, id) : undefined;
  }

  async function checkQuota(ownerId: string, adding: number): Promise<void> {
    const used = await files.usedBytes(db, ownerId);
    if (used + adding > settings.userQuotaBytes) throw overQuota(settings.userQuotaBytes, used);
  }

  async function removeBlob(storageKey: string): Promise<void> {
    try {
      await store.delete(storageKey);
    } catch (error) {
      log.warn({ err: error, key: storageKey }, 'could not remove a refused upload; the orphan sweep will not see it');
    }
  }

  const storage = {
    store,

    /**
     * Streams an upload into storage: the size limit is enforced while the bytes arrive (the
     * upload stops at the first byte too many), the type is decided from the first bytes and
     * checked against the use's allow-list and the name's extension before anything is written,
     * the SHA-256 is computed on the way, and the owner's quota is checked under a lock once the
     * size is known. A refused upload leaves nothing behind.
     */
    async upload(input: UploadInput): Promise<StoredFile> {
      const name = sanitizeFileName(input.name);
      try {
        if (input.declaredSize !== undefined && input.declaredSize > input.rule.maxBytes) throw tooLarge(input.rule);
        await checkQuota(input.ownerId, input.declaredSize ?? 0);
        const body = input.body instanceof Readable ? input.body : Readable.from(input.body, { objectMode: false });
        const { head, ended } = await readHead(body, HEAD_BYTES);
        if (head.length > input.rule.maxBytes) throw tooLarge(input.rule);
        if (head.length === 0) throw new AppError('invalid_input', 'storage.empty', 'The file is empty');
        const decision = decideType(await fileTypeFromBuffer(head), name, head, input.rule);
        if (!decision.ok) throw new AppError('unsupported_media_type', decision.code, decision.message);

        // The bytes go on to the store through one step that counts them against the limit and
        // hashes them: a plain stream step, not a promise per chunk.
        const hash = createHash('sha256');
        let size = 0;
        const limit = input.rule.maxBytes;
        const counter = new Transform({
          // A megabyte in flight on each side: the bytes move in few large steps, not many small ones.
          highWaterMark: 1024 * 1024,
          transform(chunk: Buffer, _encoding, next) {
            size += chunk.length;
            if (size > limit) {
              next(tooLarge(input.rule));
              return;
            }
            hash.update(chunk);
            next(null, chunk);
          },
        });
        if (!ended) body.unshift(head);
        const counted = pipeline(ended ? Readable.from([head]) : body, counter, () => undefined);
        const storageKey = newKey(input.app);
        try {
          await store.put(storageKey, counted, {
            contentType: servedType(decision.type),
            contentDisposition: attachmentDisposition(name),
          });
        } catch (error) {
          counted.destroy();
          body.destroy();
          throw error;
        }
        try {
          const row = await database.transaction(async (tx) => {
            const inTx = tx.view<DB>('platform');
            await files.lockOwner(inTx, input.ownerId);
            const used = await files.usedBytes(inTx, input.ownerId);
            if (used + size > settings.userQuotaBytes) throw overQuota(settings.userQuotaBytes, used);
            return files.insertFile(inTx, {
              app: input.app,
              use: input.use,
              ownerId: input.ownerId,
              key: storageKey,
              name,
              contentType: decision.type,
              size,
              sha256: hash.digest('hex'),
              status: 'stored',
            });
          });
          uploads.inc({ outcome: 'stored' });
          uploadedBytes.inc(size);
          return toFile(row);
        } catch (error) {
          await removeBlob(storageKey);
          throw error;
        }
      } catch (error) {
        uploads.inc({ outcome: outcomeOf(error) });
        throw error;
      }
    },

    /** A file by id, or undefined (malformed ids included). */
    async get(id: string): Promise<StoredFile | undefined> {
      const row = await find(id);
      return row === undefined ? undefined : toFile(row);
    },

    /**
     * Attaches the owner's stored file to a record of the app; it is then kept until the record's
     * files are deleted. Refused for another owner's file, another app's, or one already attached.
     */
    async attach(app: string, id: string, ownerId: string, record: string, tx?: Tx): Promise<StoredFile> {
      const run = async (handle: Kysely<DB>) => {
        const row = uuid.test(id) ? await files.findFile(handle, id, true) : undefined;
        if (row === undefined || row.app !== app || row.owner_id !== ownerId) throw notFound();
        if (row.status !== 'stored') {
          throw new AppError('conflict', 'storage.not_attachable', 'This file is already attached or being deleted');
        }
        const attached = await files.attachFile(handle, id, record);
        if (attached === undefined)
          throw new AppError('conflict', 'storage.not_attachable', 'This file changed meanwhile');
        return toFile(attached);
      };
      return tx === undefined
        ? database.transaction((own) => run(own.view<DB>('platform')))
        : run(tx.view<DB>('platform'));
    },

    /** Lets another user download one of the app's files. */
    async grant(app: string, id: string, userId: string, tx?: Tx): Promise<void> {
      const handle = tx === undefined ? db : tx.view<DB>('platform');
      const row = uuid.test(id) ? await files.findFile(handle, id) : undefined;
      if (row === undefined || row.app !== app) throw notFound();
      await files.insertGrant(handle, id, userId);
    },

    /**
     * A short-lived download link for `userId`, issued only to the owner or a user granted the
     * file: a presigned GET in S3 mode, an HMAC-signed expiring link to the platform otherwise.
     * Either way the file comes as an attachment under its sanitized name, never rendered inline.
     */
    async link(app: string | undefined, id: string, userId: string): Promise<DownloadLink> {
      const row = await find(id);
      if (
        row === undefined ||
        (app !== undefined && row.app !== app) ||
        row.status === 'uploading' ||
        row.status === 'deleting'
      ) {
        throw notFound();
      }
      if (row.owner_id !== userId && !(await files.hasGrant(db, id, userId))) throw notFound();
      const expires = Math.floor(Date.now() / 1000) + settings.linkSeconds;
      const expiresAt = new Date(expires * 1000);
      if (store.presignGet !== undefined) {
        const url = await store.presignGet(row.storage_key, {
          contentType: servedType(row.content_type),
          contentDisposition: attachmentDisposition(row.name),
          expiresInSeconds: settings.linkSeconds,
        });
        return { url, expiresAt };
      }
      const query = new URLSearchParams({ expires: String(expires), signature: signLink(key, id, expires) });
      return { url: `/api/storage/files/${id}?${query.toString()}`, expiresAt };
    },

    /**
     * Opens a local download after checking its link: the file's stream (one range of it when
     * asked) with what the response needs. Refuses an expired or forged link.
     */
    async openLink(
      id: string,
      expires: number,
      signature: string,
      range: ((size: number) => ByteRange | 'unsatisfiable' | undefined) | undefined,
    ): Promise<{ file: StoredFile; stream: Readable; range: ByteRange | undefined } | { unsatisfiable: StoredFile }> {
      const check = uuid.test(id)
        ? checkLink(key, id, expires, signature, Math.floor(Date.now() / 1000))
        : 'bad_signature';
      if (check === 'bad_signature') {
        throw new AppError('forbidden', 'storage.bad_link', 'This download link is not valid');
      }
      if (check === 'expired') {
        throw new AppError('forbidden', 'storage.link_expired', 'This download link has expired; ask for a new one');
      }
      const row = await find(id);
      if (row === undefined || row.status === 'deleting' || row.status === 'uploading') throw notFound();
      const file = toFile(row);
      const wanted = range?.(file.size);
      if (wanted === 'unsatisfiable') return { unsatisfiable: file };
      return { file, stream: await store.get(row.storage_key, wanted), range: wanted };
    },

    /** The bytes of a file (one range when given), for the platform's own readers (document parsing). */
    async read(id: string, range?: ByteRange): Promise<{ file: StoredFile; stream: Readable }> {
      const row = await find(id);
      if (row === undefined || row.status === 'deleting' || row.status === 'uploading') throw notFound();
      return { file: toFile(row), stream: await store.get(row.storage_key, range) };
    },

    /** The app's files attached to `record`. */
    async listRecord(app: string, record: string): Promise<StoredFile[]> {
      return (await files.listRecordFiles(db, app, record)).map(toFile);
    },

    /**
     * Deletes the files of an app's record: marked at once (no more links), removed by a task that
     * commits with `tx` (the record's own deletion), so they go exactly when the record does.
     */
    async deleteRecord(app: string, record: string, tx?: Tx): Promise<number> {
      const work = async (handle: Tx) => {
        const ids = await files.markRecordDeleting(handle.view<DB>('platform'), app, record);
        if (ids.length > 0) await options.enqueuePurge(ids, handle);
        return ids.length;
      };
      return tx === undefined ? database.transaction(work) : work(tx);
    },

    /** Deletes one of the owner's files not attached to a record (a user removes an upload). */
    async discard(app: string, id: string, ownerId: string): Promise<void> {
      await database.transaction(async (tx) => {
        const handle = tx.view<DB>('platform');
        const row = uuid.test(id) ? await files.findFile(handle, id, true) : undefined;
        if (row === undefined || row.app !== app || row.owner_id !== ownerId) throw notFound();
        if (row.status === 'attached') {
          throw new AppError(
            'conflict',
            'storage.attached',
            'This file belongs to a record; delete the record instead',
          );
        }
        if (await files.markDeleting(handle, id)) await options.enqueuePurge([id], tx);
      });
    },

    /** Removes the blobs and rows of files marked `deleting` among `ids`; a blob already gone is fine. */
    async purge(ids: readonly string[]): Promise<number> {
      const doomed = await files.findDeleting(db, ids);
      for (const file of doomed) {
        await store.delete(file.storage_key);
        await files.deleteRow(db, file.id);
      }
      return doomed.length;
    },

    /** Deletes uploads never attached to a record and older than `STORAGE_ORPHAN_HOURS`, in batches. */
    async sweepOrphans(now = new Date()): Promise<number> {
      const before = new Date(now.getTime() - settings.orphanHours * 3_600_000);
      let total = 0;
      for (;;) {
        const ids = await files.markOrphansDeleting(db, before, 100);
        total += await storage.purge(ids);
        if (ids.length < 100) return total;
      }
    },

    /**
     * Announces a direct upload to the bucket (S3 mode, large files): checks the size against the
     * use's limit and the owner's quota (the announced size counts from now on), the type the
     * client claims against the allow-list and the extension, and returns a presigned PUT for
     * exactly that many bytes. The bytes are checked again by `completeDirect`.
     */
    async startDirect(
      input: Omit<UploadInput, 'body' | 'declaredSize'> & { size: number; type: string },
    ): Promise<DirectUpload> {
      if (store.presignPut === undefined) {
        throw new AppError(
          'conflict',
          'storage.direct_unavailable',
          'Direct uploads need S3 storage; stream the upload instead',
        );
      }
      const name = sanitizeFileName(input.name);
      if (input.size > input.rule.maxBytes) throw tooLarge(input.rule);
      if (input.size <= 0) throw new AppError('invalid_input', 'storage.empty', 'The file is empty');
      // The bytes are not here yet: the claimed type must fit the name now, and the bytes on completion.
      const claimed = decideType(
        { mime: input.type, ext: extensionsFor(input.type)[0] ?? '' },
        name,
        new Uint8Array(),
        input.rule,
      );
      if (!claimed.ok) throw new AppError('unsupported_media_type', claimed.code, claimed.message);
      const storageKey = newKey(input.app);
      const row = await database.transaction(async (tx) => {
        const handle = tx.view<DB>('platform');
        await files.lockOwner(handle, input.ownerId);
        const used = await files.usedBytes(handle, input.ownerId);
        if (used + input.size > settings.userQuotaBytes) throw overQuota(settings.userQuotaBytes, used);
        return files.insertFile(handle, {
          app: input.app,
          use: input.use,
          ownerId: input.ownerId,
          key: storageKey,
          name,
          contentType: claimed.type,
          size: input.size,
          sha256: null,
          status: 'uploading',
        });
      });
      const url = await store.presignPut(storageKey, {
        contentType: claimed.type,
        contentLength: input.size,
        expiresInSeconds: settings.linkSeconds,
      });
      return {
        file: toFile(row),
        url,
        method: 'PUT',
        headers: { 'content-type': claimed.type },
        expiresAt: new Date(Date.now() + settings.linkSeconds * 1000),
      };
    },

    /**
     * Confirms a direct upload once the browser has sent it: the object must exist with exactly
     * the announced size, and its first bytes must be of an allowed type matching the name. A
     * file that fails is deleted; one that passes is `stored` and hashed by a task.
     */
    async completeDirect(app: string, id: string, ownerId: string, rule: UseRule): Promise<StoredFile> {
      const row = await find(id);
      if (row === undefined || row.app !== app || row.owner_id !== ownerId) throw notFound();
      if (row.status !== 'uploading') {
        throw new AppError('conflict', 'storage.already_complete', 'This upload was already completed');
      }
      const size = await store.size(row.storage_key);
      if (size === undefined) {
        throw new AppError('conflict', 'storage.not_uploaded', 'The file has not arrived yet; send it, then complete');
      }
      const refuse = async (error: AppError): Promise<never> => {
        await database.transaction(async (tx) => {
          if (await files.markDeleting(tx.view<DB>('platform'), id)) await options.enqueuePurge([id], tx);
        });
        throw error;
      };
      if (size !== Number(row.size)) {
        return refuse(
          new AppError(
            'invalid_input',
            'storage.size_mismatch',
            `The file has ${size} bytes, not the ${row.size} announced`,
          ),
        );
      }
      const start = await store.get(row.storage_key, { start: 0, end: Math.min(size, HEAD_BYTES) - 1 });
      const { head } = await readHead(start, HEAD_BYTES).finally(() => start.destroy());
      const decision = decideType(await fileTypeFromBuffer(head), row.name, head, rule);
      if (!decision.ok) return refuse(new AppError('unsupported_media_type', decision.code, decision.message));
      const confirmed = await files.confirmUpload(db, id, decision.type);
      if (confirmed === undefined)
        throw new AppError('conflict', 'storage.already_complete', 'This upload was already completed');
      await options.enqueueHash(id);
      return toFile(confirmed);
    },

    /** Computes and records the SHA-256 of a stored file by streaming it (direct uploads). */
    async hash(id: string): Promise<string | undefined> {
      const row = await find(id);
      if (row === undefined || row.status === 'deleting' || row.sha256 !== null) return row?.sha256 ?? undefined;
      const hash = createHash('sha256');
      for await (const chunk of await store.get(row.storage_key)) hash.update(chunk as Buffer);
      const digest = hash.digest('hex');
      await files.setSha256(db, id, digest);
      return digest;
    },

    /** Writes, reads back and deletes a probe object: the readiness check. */
    probe: () => probeStore(store),
  };
  return storage;
}

function outcomeOf(error: unknown): string {
  if (!(error instanceof AppError)) return 'failed';
  if (error.code === 'storage.too_large') return 'too_large';
  if (error.code === 'storage.quota_exceeded') return 'quota';
  if (error.code.startsWith('storage.type')) return 'type';
  return 'refused';
}

/** Writes, reads back and deletes a probe object (readiness and `doctor`); resolves with a short detail. */
export async function probeStore(store: BlobStore): Promise<string> {
  const probeKey = `probes/${randomBytes(8).toString('hex')}`;
  const content = randomBytes(32);
  await store.put(probeKey, Readable.from([content]), {
    contentType: 'application/octet-stream',
    contentDisposition: 'attachment',
  });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await store.get(probeKey)) chunks.push(chunk as Buffer);
    if (!Buffer.concat(chunks).equals(content))
      throw new Error('the probe object read back differs from what was written');
  } finally {
    await store.delete(probeKey);
  }
  return `${store.driver}: write, read and delete ok`;
}
