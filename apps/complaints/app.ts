import { defineApp } from '@ballast/platform';

/** complaints: a bilingual complaint desk run by technical and higher committees. */
export default defineApp({
  name: 'complaints',
  title: 'Complaint desk',
  summary:
    'Traders file complaints; committees resolve, escalate and mediate them against SLA deadlines, in Arabic or English.',
  status: 'coming-soon',
  migrations: new URL('./migrations/', import.meta.url).pathname,
});
