import path from 'node:path';
import type { SettingsOf } from '#platform/kernel/config/load-config.ts';
import { z } from 'zod';
import { booleanSetting, defineSettings, integerSetting } from '#platform/kernel/config/settings.ts';

/** Where files live: a local folder, or an S3-compatible bucket. */
export type StorageTarget =
  | { readonly driver: 'local'; readonly directory: string }
  | {
      readonly driver: 's3';
      readonly bucket: string;
      /** Key prefix inside the bucket ('' or ending in '/'). */
      readonly prefix: string;
      readonly region: string;
      /** A MinIO, R2 or test server; undefined for AWS itself. */
      readonly endpoint: string | undefined;
      readonly forcePathStyle: boolean;
      /** Undefined: the SDK's default chain (environment, instance role, ...). */
      readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
    };

/** Parses `STORAGE_URL`: `file:<folder>` (or a bare path) or `s3://<bucket>[/<prefix>]`. */
export function parseStorageUrl(
  value: string,
  dataDir: string,
): { driver: 'local'; directory: string } | { driver: 's3'; bucket: string; prefix: string } {
  if (value.startsWith('s3://')) {
    const rest = value.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/\/*$/, '/');
    return { driver: 's3', bucket, prefix: prefix === '/' ? '' : prefix };
  }
  const folder = value.startsWith('file:') ? value.slice('file:'.length).replace(/^\/\/(?=\/)/, '') : value;
  return { driver: 'local', directory: path.resolve(dataDir, folder) };
}

/** File storage: uploads, signed downloads, quotas, orphan sweeps. */
export const storageSettings = defineSettings('storage', {
  schema: z
    .object({
      STORAGE_URL: z
        .string()
        .min(1)
        .optional()
        .refine(
          (value) =>
            value === undefined ||
            !value.startsWith('s3://') ||
            /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(value),
          'must be s3://<bucket>[/<prefix>] with a valid bucket name',
        )
        .describe('Where files live: file:<folder> (default DATA_DIR/storage) or s3://<bucket>[/<prefix>]'),
      STORAGE_S3_REGION: z.string().min(1).default('us-east-1').describe('Region of the S3 bucket (auto for R2)'),
      STORAGE_S3_ENDPOINT: z
        .url()
        .optional()
        .describe('Endpoint of an S3-compatible service (MinIO, R2); unset for AWS S3'),
      STORAGE_S3_FORCE_PATH_STYLE: booleanSetting(false).describe(
        'Address the bucket in the path rather than the host name (MinIO and most self-hosted servers)',
      ),
      STORAGE_S3_ACCESS_KEY_ID: z
        .string()
        .min(1)
        .optional()
        .describe("Access key id for the bucket; unset: the AWS SDK's default credential chain"),
      STORAGE_S3_SECRET_ACCESS_KEY: z.string().min(1).optional().describe('Secret access key for the bucket'),
      STORAGE_LINK_SECONDS: integerSetting(300, 10, 86_400).describe(
        'How long a signed download or upload link stays valid, in seconds',
      ),
      STORAGE_USER_QUOTA_MB: integerSetting(1024, 1, 10_000_000).describe(
        'Most a user may keep stored across every app, in MiB',
      ),
      STORAGE_ORPHAN_HOURS: integerSetting(24, 1, 720).describe(
        'Uploads never attached to a record are deleted after this many hours',
      ),
      STORAGE_DIRECT_UPLOAD_MB: integerSetting(64, 5, 5_000_000).describe(
        'In S3 mode, files above this size go straight from the browser to the bucket through a presigned link',
      ),
    })
    .superRefine((values, ctx) => {
      if ((values.STORAGE_S3_ACCESS_KEY_ID === undefined) !== (values.STORAGE_S3_SECRET_ACCESS_KEY === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: [
            values.STORAGE_S3_ACCESS_KEY_ID === undefined ? 'STORAGE_S3_ACCESS_KEY_ID' : 'STORAGE_S3_SECRET_ACCESS_KEY',
          ],
          message: 'set both STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY, or neither',
        });
      }
    }),
  resolve: (values, ctx) => {
    const parsed = parseStorageUrl(values.STORAGE_URL ?? 'file:storage', ctx.dataDir);
    const target: StorageTarget =
      parsed.driver === 'local'
        ? parsed
        : {
            ...parsed,
            region: values.STORAGE_S3_REGION,
            endpoint: values.STORAGE_S3_ENDPOINT,
            forcePathStyle: values.STORAGE_S3_FORCE_PATH_STYLE,
            credentials:
              values.STORAGE_S3_ACCESS_KEY_ID === undefined || values.STORAGE_S3_SECRET_ACCESS_KEY === undefined
                ? undefined
                : {
                    accessKeyId: values.STORAGE_S3_ACCESS_KEY_ID,
                    secretAccessKey: values.STORAGE_S3_SECRET_ACCESS_KEY,
                  },
          };
    return {
      target,
      linkSeconds: values.STORAGE_LINK_SECONDS,
      userQuotaBytes: values.STORAGE_USER_QUOTA_MB * 1024 * 1024,
      orphanHours: values.STORAGE_ORPHAN_HOURS,
      directUploadBytes: values.STORAGE_DIRECT_UPLOAD_MB * 1024 * 1024,
    };
  },
});

declare module '#platform/kernel/config/load-config.ts' {
  interface ModuleConfig {
    readonly storage: SettingsOf<typeof storageSettings>;
  }
}
