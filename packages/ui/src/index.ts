export { api, ApiError, readCookie, safeNext, type Method } from './api.ts';
export {
  SessionProvider,
  useSession,
  rolesOf,
  type User,
  type RoleGrant,
  type Session,
  type SessionState,
} from './session.tsx';
export {
  Field,
  PasswordField,
  Form,
  ErrorMessage,
  Notice,
  SubmitButton,
  formText,
  asSentence,
  fieldProblem,
  useSubmission,
  type FieldProps,
  type Submission,
} from './form.tsx';
export { Layout, Header, Card, RequireUser, type NavLink } from './layout.tsx';
export { GoogleButton } from './google-button.tsx';
export {
  SignInPage,
  RegisterPage,
  ResetRequestPage,
  ResetConfirmPage,
  VerifyEmailPage,
  AccountPage,
  AwaitingApprovalPage,
  SetupPage,
  WelcomePage,
  useAuthConfig,
  landingFor,
  type AuthConfig,
} from './auth-pages.tsx';
export {
  AdminAuditPage,
  AdminUserPage,
  AdminUsersPage,
  ConfirmDialog,
  describeChange,
  purchaseState,
} from './admin-pages.tsx';
export { mount } from './mount.tsx';
export { connectRealtime, type RealtimeClient, type ConnectionState } from './realtime.ts';
export { buyPack, type CreatedOrder, type CheckoutAnswer } from './checkout.ts';
export {
  formatDate,
  formatDateTime,
  formatDuration,
  formatMoney,
  formatNumber,
  formatUnits,
  type FormatOptions,
} from './format.ts';
export { ReceiptPage } from './receipt-page.tsx';
export { TestCheckoutPage, TestModeBanner } from './test-checkout.tsx';
export { createLevelSource, LevelMeter, ToggleButton, type LevelSource } from './voice.tsx';
