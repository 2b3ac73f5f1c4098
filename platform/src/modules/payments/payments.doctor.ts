import type { DoctorCheck, DoctorProbe } from '#platform/kernel/lifecycle/module.ts';

/** Test payments move no money yet credit balances: in production only a staging site may take them. */
export function paymentsDoctor({ config, apps, production }: DoctorProbe): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const add = (check: DoctorCheck): void => {
    checks.push(check);
  };
  const sellers = apps.filter((app) => app.payments !== undefined).map((app) => app.name);
  if (sellers.length === 0) {
    add({ name: 'payments', status: 'pass', message: 'no app sells anything' });
    return checks;
  }
  const { razorpay, testMode, allowTestModeInProduction } = config.payments;
  const selling = `${sellers.join(', ')} sell${sellers.length === 1 ? 's' : ''}`;
  if (!testMode) {
    add({ name: 'payments', status: 'pass', message: `${selling} through Razorpay with live keys` });
    return checks;
  }
  const gateway =
    razorpay === undefined ? 'the local test gateway (no Razorpay keys)' : 'Razorpay test mode (an rzp_test_ key)';
  if (!production) {
    add({ name: 'payments', status: 'pass', message: `${selling} through ${gateway}: no money moves` });
  } else if (allowTestModeInProduction) {
    add({
      name: 'payments',
      status: 'warn',
      message: `staging: ${selling} through ${gateway}; payments move no money yet credit balances, and pages show a test-mode banner`,
      fix: 'set Razorpay live keys and remove PAYMENTS_TEST_MODE before real customers arrive',
    });
  } else {
    add({
      name: 'payments',
      status: 'fail',
      message: `${selling} through ${gateway} in production: anyone could buy credit with payments that move no money`,
      fix: 'set RAZORPAY_KEY_ID (rzp_live_...), RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET; on a staging site, PAYMENTS_TEST_MODE=true and ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true',
    });
  }
  return checks;
}
