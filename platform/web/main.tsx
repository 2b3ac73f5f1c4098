// The platform's own pages: accounts (sign-in, registration, reset, email confirmation, account,
// approval) and administration (users, audit trail). The server answers each path with the same
// shell; this picks the page.
import {
  AccountPage,
  AdminAuditPage,
  AdminUsersPage,
  AwaitingApprovalPage,
  Layout,
  mount,
  RegisterPage,
  ResetConfirmPage,
  ResetRequestPage,
  SetupPage,
  SignInPage,
  TestCheckoutPage,
  VerifyEmailPage,
  useSession,
  rolesOf,
} from '@ballast/ui';
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
  '/admin/users': () => <AdminUsersPage />,
  '/admin/audit': () => <AdminAuditPage />,
  '/payments/test-checkout': () => <TestCheckoutPage />,
};

function PlatformPage() {
  const session = useSession();
  const admin = session.state.status === 'signed-in' && rolesOf(session.state.user).active.includes('platform:admin');
  const nav = admin
    ? [
        { href: '/admin/users', label: 'Users' },
        { href: '/admin/audit', label: 'Audit' },
      ]
    : [];
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const page = pages[path];
  return (
    <Layout nav={nav}>
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
