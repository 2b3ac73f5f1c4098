/**
 * Test support for Ballast and its apps: real databases, real servers, captured logs.
 * Imported by tests only (`@ballast/platform/testing`).
 */
export { createTestDatabase, type TestDatabase } from './database.ts';
export { startTestBallast, type TestBallast, type StartTestBallastOptions } from './ballast.ts';
export { captureLogs, type CapturedLogs } from './logs.ts';
export { makeTempDir } from './temp.ts';
export { startTcpProxy, type TcpProxy, type TcpProxyMode } from './tcp-proxy.ts';
export { testSigningKeys } from './keys.ts';
export { createTestUser, type TestUser } from './users.ts';
export { linkToken, waitForEmails } from './inbox.ts';
export {
  startFakeRazorpay,
  type FakeRazorpay,
  type FakeRazorpayOrder,
  type FakeRazorpayPayment,
} from './razorpay-server.ts';
export { waitFor } from './wait-for.ts';
export {
  startFakeAnthropic,
  startFakeGemini,
  startFakeOpenAi,
  type FakeAiBehaviour,
  type FakeAiRequest,
  type FakeAiServer,
} from './ai-servers.ts';
export { applyTestLedgerChange } from './ledger.ts';
export type { PermissionLevel, PermissionRows } from './permissions.ts';
export { startLocalS3, type LocalS3 } from './s3-server.ts';
