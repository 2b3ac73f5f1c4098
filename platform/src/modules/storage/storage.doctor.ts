import type { DoctorCheck, DoctorProbe } from '#platform/kernel/lifecycle/module.ts';
import { createBlobStore } from './providers/create.ts';
import { probeStore } from './storage.service.ts';

/** Writes, reads back and deletes a probe object where uploaded files live (the folder or the bucket). */
export async function storageDoctor({ config, production }: DoctorProbe): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck): void => {
    checks.push(check);
  };
  const target = config.storage.target;
  const where = target.driver === 'local' ? target.directory : `s3://${target.bucket}/${target.prefix}`;
  const store = createBlobStore(target);
  try {
    const detail = await probeStore(store);
    add({ name: 'storage', status: 'pass', message: `${where}: ${detail}` });
    if (production && target.driver === 'local') {
      add({
        name: 'storage',
        status: 'warn',
        message: 'uploaded files are kept on this machine’s disk: one node only, back up DATA_DIR',
        fix: 'set STORAGE_URL=s3://<bucket> (AWS S3, MinIO or R2)',
      });
    }
  } catch (error) {
    add({
      name: 'storage',
      status: 'fail',
      message: `${where}: could not write, read and delete a probe object: ${(error as Error).message.split('\n')[0]}`,
      fix:
        target.driver === 'local'
          ? 'make STORAGE_URL a folder the Ballast user can write'
          : 'check the bucket name, STORAGE_S3_ENDPOINT, the credentials and that they may put, get and delete objects',
    });
  } finally {
    await store.close();
  }
  return checks;
}
