import { sql, type Kysely } from 'kysely';

/**
 * Money: a ledger per user, app and unit (every credit and debit a row, the balance kept in step
 * in the same transaction and never below zero), payment orders and the provider events already
 * processed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table platform.ledger_balance (
      user_id uuid not null references platform."user"(id) on delete cascade,
      app text not null,
      unit text not null,
      balance bigint not null default 0 check (balance >= 0),
      updated_at timestamptz not null default now(),
      primary key (user_id, app, unit)
    );
    create table platform.ledger_entry (
      id bigint generated always as identity primary key,
      user_id uuid not null,
      app text not null,
      unit text not null,
      kind text not null check (kind in ('purchase', 'usage', 'refund', 'adjustment')),
      amount bigint not null check (amount <> 0),
      balance_after bigint not null check (balance_after >= 0),
      reference text,
      idempotency_key text not null,
      created_at timestamptz not null default now(),
      unique (app, idempotency_key),
      foreign key (user_id, app, unit) references platform.ledger_balance (user_id, app, unit)
    );
    create index ledger_entry_user on platform.ledger_entry (user_id, app, created_at desc);

    create table platform.payment_order (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references platform."user"(id) on delete cascade,
      app text not null,
      provider text not null check (provider in ('razorpay', 'test')),
      provider_order_id text not null unique,
      pack text not null,
      units bigint not null check (units > 0),
      unit text not null,
      amount_minor bigint not null check (amount_minor > 0),
      currency text not null,
      status text not null default 'created' check (status in ('created', 'paid', 'failed', 'refunded')),
      payment_id text,
      failure_reason text,
      created_at timestamptz not null default now(),
      paid_at timestamptz,
      refunded_units bigint not null default 0
    );
    create index payment_order_user on platform.payment_order (user_id, app, created_at desc);

    create table platform.payment_event (
      provider text not null,
      event_id text not null,
      type text not null,
      received_at timestamptz not null default now(),
      outcome text,
      primary key (provider, event_id)
    );
  `.execute(db);
}
