import type { AppDefinition } from '@ballast/platform';
import assistant from '@ballast/assistant';
import coach from '@ballast/coach';
import complaints from '@ballast/complaints';
import interviews from '@ballast/interviews';

/** The composition root: the apps this Ballast serves, in home-page order. */
export const apps: readonly AppDefinition[] = [coach, interviews, assistant, complaints] as AppDefinition[];
