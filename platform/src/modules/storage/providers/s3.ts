import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { BlobStore } from './blob-store.ts';

/** How to reach a bucket (see `STORAGE_URL` and the `STORAGE_S3_*` settings). */
export interface S3StoreOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
}

/** Parts of a multipart upload, in bytes, and how many are in flight: the memory one upload holds at most. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

/**
 * Objects in an S3-compatible bucket (AWS S3, MinIO, R2) through the official AWS SDK v3. Uploads
 * stream as multipart uploads of 8 MiB parts, two in flight, so memory stays bounded whatever the
 * file's size; a failed upload is aborted (no parts left behind). Downloads are presigned GETs that
 * answer as attachments.
 */
export function createS3BlobStore(options: S3StoreOptions): BlobStore {
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
    // Checksums only where S3 requires them: MinIO, R2 and older servers refuse the newer trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = options.bucket;
  const keyOf = (key: string): string => `${options.prefix}${key}`;
  return {
    driver: 's3',
    async put(key, body: Readable, put) {
      const upload = new Upload({
        client,
        params: {
          Bucket,
          Key: keyOf(key),
          Body: body,
          ContentType: put.contentType,
          ContentDisposition: put.contentDisposition,
        },
        partSize: PART_BYTES,
        queueSize: PARTS_IN_FLIGHT,
        leavePartsOnError: false,
      });
      await upload.done();
    },
    async get(key, range) {
      const answer = await client.send(
        new GetObjectCommand({
          Bucket,
          Key: keyOf(key),
          ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
        }),
      );
      return answer.Body as Readable;
    },
    async size(key) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket, Key: keyOf(key) }));
        return head.ContentLength;
      } catch (error) {
        if (
          error instanceof NotFound ||
          (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)
        ) {
          return undefined;
        }
        throw error;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: keyOf(key) }));
    },
    presignGet(key, get) {
      return getSignedUrl(
        client,
        new GetObjectCommand({
          Bucket,
          Key: keyOf(key),
          ResponseContentType: get.contentType,
          ResponseContentDisposition: get.contentDisposition,
        }),
        { expiresIn: get.expiresInSeconds },
      );
    },
    presignPut(key, put) {
      return getSignedUrl(
        client,
        new PutObjectCommand({
          Bucket,
          Key: keyOf(key),
          ContentType: put.contentType,
          ContentLength: put.contentLength,
        }),
        { expiresIn: put.expiresInSeconds, signableHeaders: new Set(['content-type', 'content-length']) },
      );
    },
    async close() {
      client.destroy();
    },
  };
}
