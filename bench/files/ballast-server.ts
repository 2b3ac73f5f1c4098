// The server for bench/files: Ballast's full stack with one upload use (PDF, up to 2 GiB), storage
// in a local folder or the S3 bucket the environment names.
import { defineApp } from '@ballast/platform';
import { serve } from '../../cli/src/serve.ts';

const benchApp = defineApp({
  name: 'bench',
  title: 'Bench',
  summary: 'The benchmark uploads.',
  status: 'available',
  storage: { uses: { blob: { maxBytes: 2 * 1024 ** 3, types: ['application/pdf'] } } },
});

process.exitCode = await serve(['web'], process.env, [benchApp]);
