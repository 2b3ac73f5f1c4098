import { describe, expect, it } from 'vitest';
import { auditCsv, type AuditEvent } from './audit.ts';

const event: AuditEvent = {
  id: '7',
  at: new Date('2026-03-01T12:00:00Z'),
  actorId: null,
  actorEmail: 'priya@example.com',
  actorName: null,
  action: 'auth.sign_in',
  targetType: 'user',
  targetId: 'u-1',
  targetName: null,
  ip: '203.0.113.10',
  userAgent: 'test',
  before: null,
  after: { roles: ['desk:tc'] },
  details: undefined,
};

/** The cells of the one event's row, unquoted. */
function cellsOf(csv: string): string[] {
  const row = csv.split('\r\n')[1]!;
  return row
    .slice(1, -1)
    .split('","')
    .map((cell) => cell.replace(/""/g, '"'));
}

describe('the audit trail as CSV', () => {
  it('starts with the column names and ends every line with CRLF', () => {
    const csv = auditCsv([event]);
    expect(csv.split('\r\n')[0]).toBe(
      'id,at,actor_id,actor_email,action,target_type,target_id,ip,user_agent,before,after,details',
    );
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csv.split('\r\n')).toHaveLength(3);
  });

  it('writes empty cells for missing values, ISO times and JSON for documents', () => {
    expect(cellsOf(auditCsv([event]))).toEqual([
      '7',
      '2026-03-01T12:00:00.000Z',
      '',
      'priya@example.com',
      'auth.sign_in',
      'user',
      'u-1',
      '203.0.113.10',
      'test',
      '',
      '{"roles":["desk:tc"]}',
      '',
    ]);
  });

  it.each<[string, string, string]>([
    ['an equals sign', '=HYPERLINK("http://evil")', `'=HYPERLINK("http://evil")`],
    ['a plus sign', '+1+1', `'+1+1`],
    ['a minus sign', '-2+3', `'-2+3`],
    ['an at sign', '@SUM(A1)', `'@SUM(A1)`],
    ['a tab', '\t=1', `'\t=1`],
    ['a carriage return', '\r=1', `'\r=1`],
    ['a letter (left alone)', 'Mozilla/5.0', 'Mozilla/5.0'],
    ['a quote (doubled, not neutralised)', '"quoted"', '"quoted"'],
  ])('neutralises a cell starting with %s as a spreadsheet formula', (_case, userAgent, cell) => {
    expect(cellsOf(auditCsv([{ ...event, userAgent }]))[8]).toBe(cell);
  });
});
