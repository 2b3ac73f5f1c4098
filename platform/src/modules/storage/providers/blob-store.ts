import type { Readable } from 'node:stream';

/** A byte range of an object, both ends inclusive (as HTTP `Range` counts). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** What `put` is told about the object it writes. */
export interface PutOptions {
  readonly contentType: string;
  /** The `Content-Disposition` an object store serves it with (S3 keeps it as metadata). */
  readonly contentDisposition: string;
}

/**
 * Where file bytes live, behind one interface: a local folder or an S3-compatible bucket. Keys are
 * the storage module's random keys; a store never sees a user's file name as a path.
 */
export interface BlobStore {
  readonly driver: 'local' | 's3';
  /** Writes `body` under `key`, streaming (bounded memory); nothing is left under `key` when it fails. */
  put(key: string, body: Readable, options: PutOptions): Promise<void>;
  /** Reads the object (or one range of it) as a stream. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** The object's size in bytes, or undefined when there is none. */
  size(key: string): Promise<number | undefined>;
  /** Removes the object; no error when it is already gone. */
  delete(key: string): Promise<void>;
  /**
   * An S3 presigned GET that answers as an attachment with `contentType` (undefined for a local
   * store: the platform serves local files itself).
   */
  presignGet?(
    key: string,
    options: { readonly contentType: string; readonly contentDisposition: string; readonly expiresInSeconds: number },
  ): Promise<string>;
  /** An S3 presigned PUT for exactly `contentLength` bytes of `contentType` (direct browser uploads). */
  presignPut?(
    key: string,
    options: { readonly contentType: string; readonly contentLength: number; readonly expiresInSeconds: number },
  ): Promise<string>;
  /** Lets go of connections. */
  close(): Promise<void>;
}
