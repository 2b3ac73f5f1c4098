import { createHmac } from 'node:crypto';
import type { z } from 'zod';
import type { adminUserSection } from '@ballast/contracts/payments';
import type { TableMap } from '#platform/kernel/db/database.ts';
import type { AppContext } from '#platform/kernel/lifecycle/define-app.ts';
import { paymentsDoctor } from './payments.doctor.ts';
import { defineModule } from '#platform/kernel/lifecycle/module.ts';
import { createLedger, type Ledger } from './ledger.ts';
import { paymentReceiptNotice } from './payments.notifications.ts';
import { paymentsRoutes } from './payments.routes.ts';
import { createPaymentsService, type PaymentCatalog, type PaymentsService, type Purchase } from './payments.service.ts';
import { paymentsSettings } from './payments.settings.ts';
import { createRazorpayProvider } from './providers/razorpay.ts';
import { createTestGateway, type TestGateway } from './providers/test-gateway.ts';

/** Payments as an app sees them: its own catalog, and its buyers' balances and purchases. */
export interface PaymentsPort {
  /** What the app sells and the unit its balances count. */
  readonly catalog: PaymentCatalog | undefined;
  /** `test` (the local test gateway, no money moves) or `razorpay`. */
  readonly mode: string;
  /** The user's balance in the app's unit. */
  balance(userId: string): Promise<number>;
  /** The user's purchases in this app, newest first. */
  purchases(userId: string): Promise<Purchase[]>;
}

/** The payments module's service: selling and the ledger, and the local test gateway when in test mode. */
export interface Payments extends PaymentsService {
  /** Balances as a ledger, for the platform's own modules (metering debits usage from it); not an app port. */
  readonly ledger: Ledger;
  readonly testGateway: TestGateway | undefined;
}

declare module '#platform/kernel/lifecycle/module.ts' {
  interface PlatformServices {
    /** Selling packs, the ledger of balances, and the test gateway without Razorpay keys. */
    payments: Payments;
  }
  interface AppPorts {
    readonly payments: PaymentsPort;
  }
}

/**
 * A table an app adds to an administrator's view of one user (`/admin/users/:id`), e.g. the coach's
 * calls. Cells are text, a number of seconds (`duration`) or an ISO instant (`datetime`).
 */
export type AdminUserSection = z.input<typeof adminUserSection>;

declare module '#platform/kernel/lifecycle/define-app.ts' {
  interface AppOptions<Settings, DB extends TableMap> {
    /** What the app sells (packs of units) and the unit its balances count, from its settings. */
    readonly payments?: (settings: Settings) => PaymentCatalog;
    /**
     * What an administrator sees of one user in this app beyond balance and purchases (its own rows,
     * from its own tables). Called only for platform admins, by `GET /api/payments/admin/users/:id`.
     */
    readonly adminUser?: (userId: string, ctx: AppContext<Settings, DB>) => Promise<readonly AdminUserSection[]>;
  }
}

/**
 * Payments: Razorpay orders (or a labelled local test gateway without keys), verified checkout and
 * webhooks that credit exactly once, a ledger that never goes below zero, receipts by email.
 */
export const paymentsModule = defineModule({
  name: 'payments',
  dependsOn: ['auth', 'notify', 'audit'],
  doctor: paymentsDoctor,
  settings: paymentsSettings,
  migrations: new URL('./migrations/', import.meta.url).pathname,
  notifications: [paymentReceiptNotice],
  checkStartup: (config, declared) => {
    const selling = declared.apps.filter((app) => app.payments !== undefined).map((app) => app.name);
    if (!config.isProduction || selling.length === 0) return [];
    if (config.payments.razorpay !== undefined || config.payments.allowTestModeInProduction) return [];
    return [
      {
        setting: 'RAZORPAY_KEY_ID',
        message: `is missing, but ${selling.join(', ')} sell(s) with payments: production would take no money`,
        fix: 'set RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET and RAZORPAY_WEBHOOK_SECRET (on a staging site: PAYMENTS_TEST_MODE=true and ALLOW_TEST_PAYMENTS_IN_PRODUCTION=true)',
      },
    ];
  },
  create: (ctx, deps) => {
    const catalogs = new Map<string, PaymentCatalog>();
    for (const app of ctx.apps) {
      if (app.payments !== undefined) catalogs.set(app.name, app.payments(ctx.config.apps[app.name]));
    }
    const titles = new Map(ctx.apps.map((app) => [app.name, app.title]));
    const adminHooks = new Map(
      ctx.apps.flatMap((app) => (app.adminUser === undefined ? [] : [[app.name, app.adminUser]])),
    );
    const contexts = new Map<string, AppContext>();
    const adminSections = async (app: string, userId: string): Promise<readonly AdminUserSection[]> => {
      const hook = adminHooks.get(app);
      const context = contexts.get(app);
      return hook === undefined || context === undefined ? [] : hook(userId, context);
    };
    const razorpay = ctx.settings.razorpay;
    const ledger = createLedger(ctx.database);
    const testGateway =
      razorpay === undefined
        ? createTestGateway({
            database: ctx.database,
            // A local secret, stable per installation, known only to this server.
            secret: createHmac('sha256', ctx.config.security.signingSecret)
              .update('payments-test-gateway')
              .digest('hex'),
          })
        : undefined;
    const service = createPaymentsService({
      database: ctx.database,
      ledger,
      provider: testGateway ?? createRazorpayProvider({ ...razorpay!, service: ctx.external('razorpay') }),
      catalogs,
      notifier: deps.notify,
      audit: deps.audit,
      log: ctx.log,
      publicUrl: ctx.config.http.publicUrl,
    });
    const payments: Payments = Object.assign(service, { ledger, testGateway });
    return {
      service: payments,
      ...(catalogs.size === 0
        ? {}
        : {
            routes: (server) =>
              server.register(paymentsRoutes, {
                payments,
                testGateway,
                build: ctx.web,
                titleOf: (app) => titles.get(app) ?? app,
                adminSections,
              }),
          }),
      notices: payments.testMode
        ? ['Test mode: payments on this site move no money. Nothing bought here is real, and no card is charged.']
        : [],
      // Razorpay Checkout: its script, and the frame it opens on api.razorpay.com.
      contentSources:
        razorpay === undefined
          ? {}
          : { script: ['https://checkout.razorpay.com'], frame: ['https://api.razorpay.com'] },
      init: async (registry) => {
        for (const [name, app] of registry.apps) contexts.set(name, app.context);
      },
      forApp: (app) => ({
        catalog: catalogs.get(app.name),
        mode: payments.mode,
        balance: async (userId) => (await payments.balance({ id: userId }, app.name)).balance,
        purchases: (userId) => payments.purchases({ id: userId }, app.name),
      }),
    };
  },
});
