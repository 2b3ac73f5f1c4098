import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  adminUserAnswer,
  adminUserParams,
  appParams,
  balanceAnswer,
  checkoutAnswer,
  confirmOrderAnswer,
  confirmOrderParams,
  createdOrder,
  createOrderBody,
  grantAnswer,
  grantBody,
  grantParams,
  packsAnswer,
  purchaseParams,
  purchasesAnswer,
  receiptAnswer,
  testPayAnswer,
  testPayBody,
  webhookAnswer,
} from '@ballast/contracts/payments';
import { AppError } from '#platform/kernel/errors/errors.ts';
import { rateLimit } from '#platform/kernel/http/rate-limit.ts';
import { sendShell, type WebBuild } from '#platform/kernel/http/web-pages.ts';
import { PLATFORM_ADMIN } from '#platform/modules/auth/auth.service.ts';
import type { AdminUserSection } from './payments.module.ts';
import type { PaymentsService } from './payments.service.ts';
import type { TestGateway } from './providers/test-gateway.ts';

export interface PaymentsRoutesOptions {
  readonly payments: PaymentsService;
  /** The local test gateway, when no Razorpay keys are set. */
  readonly testGateway: TestGateway | undefined;
  readonly build: WebBuild;
  /** An app's title ("Voice coach"). */
  readonly titleOf: (app: string) => string;
  /** What an app adds to the admin's view of one user. */
  readonly adminSections: (app: string, userId: string) => Promise<readonly AdminUserSection[]>;
}

const adminAccess = { access: [PLATFORM_ADMIN] as readonly string[] };

function originOf(request: FastifyRequest) {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}

/**
 * Payments for every app that sells something: packs and balance, orders, the checkout's
 * confirmation, purchases, and the Razorpay webhook (verified over the raw body). In test mode, a
 * local checkout page and the call that signs its payments.
 */
export async function paymentsRoutes(server: FastifyInstance, options: PaymentsRoutesOptions): Promise<void> {
  const app = server.withTypeProvider<ZodTypeProvider>();
  const { payments, testGateway } = options;
  const known = (name: string) => {
    payments.catalogOf(name);
    return name;
  };

  app.get(
    '/api/payments/:app/packs',
    {
      config: { access: 'public' },
      schema: {
        tags: ['payments'],
        summary: 'What an app sells, and whether payments are in test mode',
        params: appParams,
        response: { 200: packsAnswer },
      },
    },
    async (request) => {
      const catalog = payments.catalogOf(request.params.app);
      return {
        mode: payments.mode,
        testMode: payments.testMode,
        keyId: payments.provider.keyId,
        unit: catalog.unit,
        packs: catalog.packs,
      };
    },
  );

  app.get(
    '/api/payments/:app/balance',
    {
      config: { access: 'user' },
      schema: {
        tags: ['payments'],
        summary: 'The caller’s balance',
        params: appParams,
        response: { 200: balanceAnswer },
      },
    },
    async (request) => payments.balance(request.user!, known(request.params.app)),
  );

  app.post(
    '/api/payments/:app/orders',
    {
      config: { access: 'user', ...rateLimit({ name: 'payment-orders', max: 20, windowMs: 15 * 60_000, by: 'user' }) },
      schema: {
        tags: ['payments'],
        summary: 'Start buying a pack: creates the gateway order',
        params: appParams,
        body: createOrderBody,
        response: { 201: createdOrder },
      },
    },
    async (request, reply) => {
      const order = await payments.createOrder(request.user!, request.params.app, request.body.pack);
      const checkoutUrl =
        testGateway === undefined
          ? null
          : `/payments/test-checkout?order=${encodeURIComponent(order.orderId)}&app=${request.params.app}`;
      return reply.status(201).send({ ...order, checkoutUrl });
    },
  );

  app.post(
    '/api/payments/:app/orders/:id/confirm',
    {
      config: { access: 'user', ...rateLimit({ name: 'payment-confirm', max: 60, windowMs: 15 * 60_000, by: 'user' }) },
      schema: {
        tags: ['payments'],
        summary: 'Verify the checkout’s signed answer and credit the pack',
        params: confirmOrderParams,
        body: checkoutAnswer,
        response: { 200: confirmOrderAnswer },
      },
    },
    async (request) => {
      known(request.params.app);
      const result = await payments.confirmCheckout(request.user!, request.params.id, request.body, originOf(request));
      const { balance, unit } = await payments.balance(request.user!, request.params.app);
      return { status: result.status, credited: result.credited, order: result.order, balance, unit };
    },
  );

  app.get(
    '/api/payments/:app/purchases',
    {
      config: { access: 'user' },
      schema: {
        tags: ['payments'],
        summary: 'The caller’s orders',
        params: appParams,
        response: { 200: purchasesAnswer },
      },
    },
    async (request) => ({ purchases: await payments.purchases(request.user!, known(request.params.app)) }),
  );

  app.get(
    '/api/payments/:app/purchases/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['payments'],
        summary: 'One of the caller’s orders as a receipt (another user’s answers 404)',
        params: purchaseParams,
        response: { 200: receiptAnswer },
      },
    },
    async (request) => {
      const app = known(request.params.app);
      const { purchase, email } = await payments.receipt(request.user!, app, request.params.id);
      return { purchase, email, appTitle: options.titleOf(app), testMode: payments.testMode };
    },
  );

  // The receipt page: a shell like every page (its data comes from the route above).
  app.get('/receipts/:app/:id', { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    sendShell(reply, options.build, { title: 'Receipt · Ballast', entry: 'platform' }),
  );

  app.get(
    '/api/payments/admin/users/:id',
    {
      config: adminAccess,
      schema: {
        tags: ['payments'],
        summary: 'Admin: one user, per app: balance, purchases and what the app adds (the coach: calls)',
        params: adminUserParams,
        response: { 200: adminUserAnswer },
      },
    },
    async (request) => {
      const user = await payments.accountOf(request.params.id);
      if (user === undefined) throw new AppError('not_found', 'payments.unknown_user', 'No such user');
      const holdings = await payments.holdings(user.id);
      const apps = await Promise.all(
        holdings.map(async (holding) => ({
          ...holding,
          title: options.titleOf(holding.app),
          sections: await options.adminSections(holding.app, user.id),
        })),
      );
      return { user, apps };
    },
  );

  app.post(
    '/api/payments/:app/admin/users/:id/grants',
    {
      config: { ...adminAccess, ...rateLimit({ name: 'payment-grants', max: 60, windowMs: 15 * 60_000, by: 'user' }) },
      schema: {
        tags: ['payments'],
        summary: 'Admin: grant free units (talk-time) to a user, audited; the same key grants once',
        params: grantParams,
        body: grantBody,
        response: { 200: grantAnswer },
      },
    },
    async (request) =>
      payments.grant(
        request.user!,
        { userId: request.params.id, app: known(request.params.app), ...request.body },
        originOf(request),
      ),
  );

  // The webhook needs the exact bytes Razorpay signed: its own JSON parser, in its own scope.
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: 1024 * 1024 },
      (_request, body, done) => done(null, body),
    );
    scope.post(
      '/api/payments/webhooks/razorpay',
      {
        config: { access: 'public' },
        schema: {
          tags: ['payments'],
          summary: 'Razorpay webhook (signed with the webhook secret)',
          response: { 200: webhookAnswer },
        },
      },
      async (request) => {
        if (!Buffer.isBuffer(request.body)) {
          throw new AppError('invalid_input', 'payments.invalid_webhook', 'Send the event as application/json');
        }
        const header = (name: string) => {
          const value = request.headers[name];
          return typeof value === 'string' ? value : undefined;
        };
        return payments.handleWebhook(request.body, header('x-razorpay-signature'), header('x-razorpay-event-id'));
      },
    );
  });

  if (testGateway !== undefined) {
    app.get(
      '/payments/test-checkout',
      { config: { access: 'public' }, schema: { hide: true } },
      async (_request, reply) =>
        sendShell(reply, options.build, { title: 'Test checkout · Ballast', entry: 'platform' }),
    );
    app.post(
      '/api/payments/test/pay',
      {
        config: { access: 'user' },
        schema: {
          tags: ['payments'],
          summary: 'Test mode only: pay an order with the local test gateway (moves no money)',
          body: testPayBody,
          response: { 200: testPayAnswer },
        },
      },
      async (request) => {
        const order = await payments.orderFor(request.user!, request.body.orderId);
        if (order.status !== 'created' && order.status !== 'failed') {
          throw new AppError('conflict', 'payments.already_paid', 'This order is already paid');
        }
        return testGateway.pay(order.providerOrderId);
      },
    );
  }
}
