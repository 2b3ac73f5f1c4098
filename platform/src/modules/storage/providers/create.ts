import type { StorageTarget } from '../storage.settings.ts';
import type { BlobStore } from './blob-store.ts';
import { createLocalBlobStore } from './local.ts';
import { createS3BlobStore } from './s3.ts';

/** Creates the blob store a target names. */
export function createBlobStore(target: StorageTarget): BlobStore {
  return target.driver === 'local' ? createLocalBlobStore(target.directory) : createS3BlobStore(target);
}
