// A `ballast worker` process for bench/tasks/crash.ts, through the same code path as the CLI.
import { serve } from '../../cli/src/serve.ts';
import { crashApp } from './crash-app.ts';

process.exitCode = await serve(['worker'], process.env, [crashApp]);
