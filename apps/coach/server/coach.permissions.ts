import type { PermissionRows } from '@ballast/platform/testing';

/**
 * The coach's rows of the permission matrix (tests/e2e/permission-matrix.test.ts). Calls belong to
 * their user: another user's call answers 404 (tested in calls.test.ts).
 */
export const permissions: PermissionRows = {
  'GET /coach/': 'public',
  'GET /api/coach/status': 'public',
  'POST /api/coach/calls': 'user',
  'POST /api/coach/calls/:id/heartbeat': 'user',
  'POST /api/coach/calls/:id/end': 'user',
  'GET /api/coach/calls': 'user',
  'GET /api/coach/calls/current': 'user',
  'GET /api/coach/care-plans': 'user',
  // ElevenLabs proves itself by the webhook's signature.
  'POST /api/coach/webhooks/elevenlabs': 'public',
  'POST /api/coach/admin/calls/:id/end': 'admin',
  'GET /api/coach/admin/calls/flagged': 'admin',
  'GET /api/coach/admin/calls/unsettled': 'admin',
  'POST /api/coach/admin/calls/:id/clear-unsettled': 'admin',
};
