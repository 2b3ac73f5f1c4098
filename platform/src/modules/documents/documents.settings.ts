import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { defineSettings, integerSetting } from '#platform/kernel/config/settings.ts';

/** Parsing untrusted documents in a sandboxed worker pool. */
export const documentsSettings = defineSettings('documents', {
  schema: z.object({
    DOCUMENTS_TIMEOUT_SECONDS: integerSetting(30, 1, 600).describe(
      'Longest one document may take to parse before its worker is killed and the file marked unreadable',
    ),
    DOCUMENTS_MEMORY_MB: integerSetting(256, 32, 8192).describe(
      'Heap limit of a parsing worker, in MiB; a document that needs more is killed and marked unreadable',
    ),
    DOCUMENTS_MAX_MB: integerSetting(25, 1, 1024).describe('Largest file given to the parser, in MiB'),
    DOCUMENTS_WORKERS: integerSetting(1, 1, 32).describe('Parsing workers per worker process (each one thread)'),
  }),
  resolve: (values) => ({
    timeoutMs: values.DOCUMENTS_TIMEOUT_SECONDS * 1000,
    memoryMb: values.DOCUMENTS_MEMORY_MB,
    maxBytes: values.DOCUMENTS_MAX_MB * 1024 * 1024,
    workers: values.DOCUMENTS_WORKERS,
  }),
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly documents: SettingsOf<typeof documentsSettings>;
  }
}
