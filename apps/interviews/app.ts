import { defineApp } from '@ballast/platform';

/** interviews: an AI interviewer that recruiters send to candidates by private link. */
export default defineApp({
  name: 'interviews',
  title: 'AI interviewer',
  summary: 'Recruiters send a private link; candidates upload a resume and take a live voice interview.',
  status: 'coming-soon',
  // Candidates have no account: they use a private link. Recruiters sign in.
  roles: [{ name: 'recruiter', title: 'Recruiter', selfService: true }],
  migrations: new URL('./migrations/', import.meta.url).pathname,
});
