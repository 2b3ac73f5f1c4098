import { sql, type Kysely } from '@ballast/platform';

/**
 * Care plans are written by whichever LLM provider the coach is configured with (the platform's
 * AI module: Anthropic, Gemini or OpenAI), or by the template in local mode; `source` names it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table coach.care_plan drop constraint care_plan_source_check;
    alter table coach.care_plan add constraint care_plan_source_check
      check (source in ('anthropic', 'gemini', 'openai', 'template'));
  `.execute(db);
}
