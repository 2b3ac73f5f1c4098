/** Who may call a route: anyone, any signed-in user, or an administrator. */
export type PermissionLevel = 'public' | 'user' | 'admin';

/**
 * An app's rows of the permission matrix (tests/e2e/permission-matrix.test.ts): `'METHOD /url'`
 * (the route's pattern, `:id` included) to who may call it. The reviewed intent, kept beside the
 * app as `apps/<app>/server/<app>.permissions.ts`; the matrix test fails on a route without a row,
 * a declared access that differs, or a caller let in or kept out against it.
 */
export type PermissionRows = Readonly<Record<string, PermissionLevel>>;
