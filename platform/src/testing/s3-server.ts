import fs from 'node:fs';
import S3rver from 's3rver';
import { makeTempDir } from './temp.ts';

/** A local server speaking the S3 REST API (s3rver), with one bucket, for tests and benches. */
export interface LocalS3 {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly bucket: string;
  /** The settings that point Ballast's storage at this server. */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

const CORS = Buffer.from(`<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
  </CORSRule>
</CORSConfiguration>`);

/**
 * Starts s3rver on a free loopback port, its objects in a temporary folder, with `bucket` created
 * (and CORS open, for browser uploads). Note: s3rver does not verify SigV4 signatures; tests of
 * what a signature protects check our own side (size and type confirmed after a direct upload).
 */
export async function startLocalS3(bucket = 'ballast-test'): Promise<LocalS3> {
  const directory = makeTempDir('ballast-s3-');
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [CORS] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      STORAGE_URL: `s3://${bucket}`,
      STORAGE_S3_ENDPOINT: endpoint,
      STORAGE_S3_REGION: 'us-east-1',
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
      STORAGE_S3_ACCESS_KEY_ID: 'S3RVER',
      STORAGE_S3_SECRET_ACCESS_KEY: 'S3RVER',
    },
    async close() {
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
