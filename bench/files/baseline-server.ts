// The baseline for bench/files: a bare node:http server that streams a request body to a file
// (fs) or to S3 (the AWS SDK's multipart Upload, the same part size and queue as Ballast), and
// streams it back on GET. No auth, no checks, no database: the cost of moving the bytes alone.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const env = process.env;
const folder = env['BASELINE_DIR'] ?? '';
const bucket = env['BASELINE_S3_BUCKET'];
const s3 =
  bucket === undefined
    ? undefined
    : new S3Client({
        region: 'us-east-1',
        endpoint: env['BASELINE_S3_ENDPOINT'] ?? '',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });

const server = http.createServer((request, response) => {
  const key = (request.url ?? '/').slice(1).replace(/[^a-z0-9-]/g, '') || 'blob';
  const fail = (error: unknown) => {
    response.statusCode = 500;
    response.end(String(error));
  };
  if (request.url === '/healthz') {
    response.end('ok');
  } else if (request.method === 'PUT' && s3 !== undefined) {
    new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: request },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
    })
      .done()
      .then(() => response.end('stored'), fail);
  } else if (request.method === 'PUT') {
    pipeline(request, fs.createWriteStream(path.join(folder, key))).then(() => response.end('stored'), fail);
  } else if (s3 !== undefined) {
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      .then((object) => pipeline(object.Body as Readable, response))
      .catch(fail);
  } else {
    pipeline(fs.createReadStream(path.join(folder, key)), response).catch(fail);
  }
});
server.listen(Number(env['PORT']), env['HOST'] ?? '127.0.0.1');
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
