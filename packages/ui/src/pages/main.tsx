// The platform's own pages: accounts (sign-in, registration, reset, email confirmation, account,
// approval) and administration (users, audit trail). They live in packages/ui, never in the
// platform, which only serves the built entry ("platform"). The server answers each path with the
// same shell; this picks the page.
import {
  AccountPage,
  AdminAuditPage,
  AdminUserPage,
  AdminUsersPage,
  AwaitingApprovalPage,
  Layout,
  mount,
  ReceiptPage,
  RegisterPage,
  ResetConfirmPage,
  ResetRequestPage,
  SetupPage,
  SignInPage,
  TestCheckoutPage,
  VerifyEmailPage,
  WelcomePage,
} from '../index.ts';
import type { ReactNode } from 'react';

const pages: Record<string, () => ReactNode> = {
  '/sign-in': () => <SignInPage />,
  '/register': () => <RegisterPage />,
  '/reset': () => <ResetRequestPage />,
  '/reset/confirm': () => <ResetConfirmPage />,
  '/verify-email': () => <VerifyEmailPage />,
  '/account': () => <AccountPage />,
  '/awaiting-approval': () => <AwaitingApprovalPage />,
  '/setup': () => <SetupPage />,
  '/welcome': () => <WelcomePage />,
  '/admin/users': () => <AdminUsersPage />,
  '/admin/audit': () => <AdminAuditPage />,
  '/payments/test-checkout': () => <TestCheckoutPage />,
};

function PlatformPage() {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const page = /^\/admin\/users\/[^/]+$/.test(path)
    ? () => <AdminUserPage />
    : /^\/receipts\/[^/]+\/[^/]+$/.test(path)
      ? () => <ReceiptPage />
      : pages[path];
  return (
    <Layout>
      {page === undefined ? (
        <section className="card narrow">
          <h1>This page does not exist</h1>
          <a href="/">Home</a>
        </section>
      ) : (
        page()
      )}
    </Layout>
  );
}

mount(<PlatformPage />);
