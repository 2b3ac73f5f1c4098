import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { TableMap, Tx } from '#platform/kernel/db/database.ts';
import type { StartupProblem } from '#platform/kernel/errors/errors.ts';
import { defineSchedule, defineTask } from '#platform/kernel/lifecycle/define-task.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { isActiveContent } from './file-rules.ts';
import { createBlobStore } from './providers/create.ts';
import { storageDoctor } from './storage.doctor.ts';
import { storageRoutes, type DeclaredUse } from './storage.routes.ts';
import { createStorage, type DownloadLink, type Storage, type StoredFile } from './storage.service.ts';
import { storageSettings } from './storage.settings.ts';

export type { StoredFile, DownloadLink } from './storage.service.ts';

/** Files as an app sees them: only its own, uploaded for the uses it declared. */
export interface StoragePort {
  /**
   * Streams an upload for one of the app's uses (`resume`), owned by `ownerId`: limits enforced
   * while streaming, type decided by the bytes, name sanitized, SHA-256 recorded, quota checked.
   * Refusals are `AppError`s (413 too large or over quota, 415 type). The file stays unattached
   * (and is swept after STORAGE_ORPHAN_HOURS) until `attach`.
   */
  upload(
    use: string,
    input: {
      readonly ownerId: string;
      readonly name: string;
      readonly body: Readable | AsyncIterable<Uint8Array>;
      readonly size?: number;
    },
  ): Promise<StoredFile>;
  /** One of this app's files, or undefined. */
  get(fileId: string): Promise<StoredFile | undefined>;
  /** Attaches the owner's uploaded file to a record (`application:42`); pass `{ tx }` to commit with it. */
  attach(
    fileId: string,
    to: { readonly ownerId: string; readonly record: string },
    options?: { readonly tx?: Tx },
  ): Promise<StoredFile>;
  /** Lets `userId` download the file too (a reviewer of an application). */
  grant(fileId: string, userId: string, options?: { readonly tx?: Tx }): Promise<void>;
  /**
   * A short-lived download link for `userId`, who must own the file or have been granted it
   * (otherwise `storage.not_found`). Relative to the site for local storage, a presigned URL in S3
   * mode; the file comes as an attachment either way.
   */
  link(fileId: string, userId: string): Promise<DownloadLink>;
  /** Reads one of this app's files (server-side processing). */
  read(fileId: string): Promise<Readable>;
  /** This app's files attached to `record`. */
  listRecord(record: string): Promise<StoredFile[]>;
  /**
   * Deletes the files of a record: call it in the transaction that deletes the record (`{ tx }`);
   * the blobs are removed by a task once it commits. Resolves with how many files go.
   */
  deleteRecord(record: string, options?: { readonly tx?: Tx }): Promise<number>;
}

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Files: streaming uploads, signed downloads, record-owned lifetimes, quotas. */
    storage: Storage;
  }
  interface AppPorts {
    readonly storage: StoragePort;
  }
}

declare module '#platform/kernel/lifecycle/define-app.ts' {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the type parameters are the interface's
  interface AppOptions<Settings, DB extends TableMap> {
    /**
     * What the app accepts as uploads, by use name (`resume`, `attachment`): largest size, content
     * types (decided by the bytes), who may upload (default: the app's default access).
     */
    readonly storage?: { readonly uses: Readonly<Record<string, DeclaredUse>> };
  }
}

const useName = /^[a-z][a-z0-9-]{0,59}$/;

/**
 * Storage: files in a local folder or an S3-compatible bucket, uploads streamed with per-use
 * limits and type checks, downloads through short-lived signed links, files deleted with the
 * record they belong to (a task), unattached uploads swept hourly, a quota per user.
 */
export const storageModule = defineModule({
  name: 'storage',
  dependsOn: ['auth', 'tasks'],
  settings: storageSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  doctor: storageDoctor,
  checkStartup: (_config, declared) => {
    const problems: StartupProblem[] = [];
    for (const app of declared.apps) {
      for (const [name, use] of Object.entries(app.storage?.uses ?? {})) {
        const setting = `app ${app.name}, upload use ${name}`;
        if (!useName.test(name)) problems.push({ setting, message: 'must be lower-case letters, digits and dashes' });
        if (!Number.isInteger(use.maxBytes) || use.maxBytes <= 0) {
          problems.push({ setting, message: 'maxBytes must be a positive whole number of bytes' });
        }
        const active = use.types.filter((type) => isActiveContent(type));
        if (active.length > 0) {
          problems.push({
            setting,
            message: `accepts ${active.join(', ')}, which a browser would run; accept them never`,
          });
        }
        if (use.types.length === 0) problems.push({ setting, message: 'accepts no content type' });
      }
    }
    return problems;
  },
  create: (ctx, deps) => {
    const store = createBlobStore(ctx.settings.target);
    const purgeTask = defineTask({
      name: 'platform.purge-stored-files',
      payload: z.object({ ids: z.array(z.uuid()).min(1).max(1000) }),
      retries: 10,
      retryDelaySeconds: 30,
      handler: async (payload, run) => {
        const removed = await storage.purge(payload.ids);
        run.log.info({ removed }, 'removed stored files');
      },
    });
    const hashTask = defineTask({
      name: 'platform.hash-stored-file',
      payload: z.object({ id: z.uuid() }),
      retries: 5,
      timeoutSeconds: 3600,
      handler: async (payload) => {
        await storage.hash(payload.id);
      },
    });
    const sweepTask = defineTask({
      name: 'platform.sweep-stored-files',
      payload: z.object({}).passthrough(),
      retries: 0,
      timeoutSeconds: 3600,
      handler: async (_payload, run) => {
        const removed = await storage.sweepOrphans();
        if (removed > 0) run.log.info({ removed }, 'removed uploads never attached to a record');
      },
    });
    const storage = createStorage({
      database: ctx.database,
      store,
      settings: ctx.settings,
      signingSecret: ctx.config.security.signingSecret,
      log: ctx.log,
      metrics: ctx.metrics,
      enqueuePurge: async (ids, tx) => {
        await deps.tasks.enqueue(purgeTask, { ids: [...ids] }, tx === undefined ? {} : { tx });
      },
      enqueueHash: async (id) => {
        await deps.tasks.enqueue(hashTask, { id });
      },
    });
    const uses = new Map(
      ctx.apps.map((app) => [app.name, { defaultAccess: app.defaultAccess, uses: app.storage?.uses ?? {} }] as const),
    );
    return {
      service: storage,
      routes: (server) =>
        server.register(storageRoutes, { storage, uses, uploadLimitBytes: ctx.config.http.uploadLimitBytes }),
      tasks: [purgeTask, hashTask, sweepTask],
      schedules: [defineSchedule({ name: 'platform.sweep-stored-files', cron: '17 * * * *', task: sweepTask.name })],
      checks: [{ name: 'storage', run: () => storage.probe() }],
      stop: () => store.close(),
      forApp: (app) => {
        const own = async (fileId: string) => {
          const file = await storage.get(fileId);
          if (file === undefined || file.app !== app.name) return undefined;
          return file;
        };
        return {
          upload: (use, input) => {
            const rule = app.storage?.uses[use];
            if (rule === undefined || !Object.hasOwn(app.storage?.uses ?? {}, use)) {
              throw new Error(`app ${app.name} declares no upload use "${use}"`);
            }
            return storage.upload({
              app: app.name,
              use,
              rule,
              ownerId: input.ownerId,
              name: input.name,
              body: input.body,
              ...(input.size === undefined ? {} : { declaredSize: input.size }),
            });
          },
          get: own,
          attach: (fileId, to, options) => storage.attach(app.name, fileId, to.ownerId, to.record, options?.tx),
          grant: (fileId, userId, options) => storage.grant(app.name, fileId, userId, options?.tx),
          link: (fileId, userId) => storage.link(app.name, fileId, userId),
          read: async (fileId) => {
            if ((await own(fileId)) === undefined) throw new Error(`no file ${fileId} in app ${app.name}`);
            return (await storage.read(fileId)).stream;
          },
          listRecord: (record) => storage.listRecord(app.name, record),
          deleteRecord: (record, options) => storage.deleteRecord(app.name, record, options?.tx),
        };
      },
    };
  },
});
