import { defineApp } from '@ballast/platform';

/** complaints: a bilingual complaint desk run by technical and higher committees. */
export default defineApp({
  name: 'complaints',
  title: 'Complaint desk',
  summary:
    'Traders file complaints; committees resolve, escalate and mediate them against SLA deadlines, in Arabic or English.',
  status: 'coming-soon',
  roles: [
    // Traders need a higher-committee approval before they can file (REQUIREMENTS: complaints).
    { name: 'trader', title: 'Trader', selfService: true, requiresApproval: true, approvers: ['complaints:hc'] },
    { name: 'tc', title: 'Technical committee', requiresApproval: true, approvers: ['complaints:hc'] },
    { name: 'hc', title: 'Higher committee' },
  ],
  migrations: new URL('./migrations/', import.meta.url).pathname,
});
