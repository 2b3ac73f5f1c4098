// The server for bench/calls: Ballast's web process with the voice coach.
import type { AppDefinition } from '@ballast/platform';
import coach from '@ballast/coach';
import { serve } from '../../cli/src/serve.ts';

process.exitCode = await serve(['web'], process.env, [coach as AppDefinition]);
