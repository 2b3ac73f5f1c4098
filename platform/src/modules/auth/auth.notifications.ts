import { z } from 'zod';
import { escapeHtml } from '#platform/kernel/http/html.ts';
import { defineNotification } from '#platform/kernel/lifecycle/define-notification.ts';

function button(link: string, label: string): string {
  return `<p><a href="${escapeHtml(link)}" style="display:inline-block;padding:10px 18px;background:#1d3557;color:#fff;border-radius:6px;text-decoration:none">${escapeHtml(label)}</a></p>
<p style="font-size:13px;color:#5c677d">Or paste this address into your browser: ${escapeHtml(link)}</p>`;
}

export const verifyEmailNotice = defineNotification({
  type: 'platform.verify-email',
  title: 'Email address confirmation',
  data: z.object({ link: z.url() }),
  channels: ['email'],
  mandatory: true,
  render: (data) => ({
    title: 'Confirm your email address',
    text: `Welcome to Ballast. Confirm your email address to finish creating your account:\n\n${data.link}\n\nIf you did not sign up, ignore this email.`,
    html: `<p>Welcome to Ballast. Confirm your email address to finish creating your account.</p>${button(data.link, 'Confirm my email')}<p>If you did not sign up, ignore this email.</p>`,
  }),
});

export const passwordResetNotice = defineNotification({
  type: 'platform.password-reset',
  title: 'Password reset links',
  data: z.object({ link: z.url(), minutes: z.number().int() }),
  channels: ['email'],
  mandatory: true,
  render: (data) => ({
    title: 'Reset your password',
    text: `Someone (hopefully you) asked to reset your Ballast password. This link works once, for ${data.minutes} minutes:\n\n${data.link}\n\nIf it was not you, ignore this email: your password stays as it is.`,
    html: `<p>Someone (hopefully you) asked to reset your Ballast password. This link works once, for ${data.minutes} minutes.</p>${button(data.link, 'Choose a new password')}<p>If it was not you, ignore this email: your password stays as it is.</p>`,
  }),
});

export const accountExistsNotice = defineNotification({
  type: 'platform.account-exists',
  title: 'Sign-up attempts with your address',
  data: z.object({ resetLink: z.url() }),
  channels: ['email'],
  mandatory: true,
  render: (data) => ({
    title: 'You already have an account',
    text: `Someone tried to create a Ballast account with this address, which already has one. If it was you and you forgot your password, reset it here:\n\n${data.resetLink}`,
  }),
});

const provenBy = {
  google: 'You signed in with Google',
  reset: 'You chose a new password through an emailed reset link',
  setup: 'You set up Ballast with this address',
} as const;

/**
 * The address of an account that was never confirmed has just been proven: whoever created that
 * account may have been someone else, so what they set was discarded. Tells the owner what changed.
 */
export const accountSecuredNotice = defineNotification({
  type: 'platform.account-secured',
  title: 'Account secured',
  data: z.object({
    provenBy: z.enum(['google', 'reset', 'setup']),
    withdrawnRoles: z.array(z.string()),
    /** Where to choose a password, when the account is left without one. */
    resetLink: z.url().optional(),
  }),
  channels: ['email'],
  mandatory: true,
  render: (data) => {
    const paragraphs = [
      `${provenBy[data.provenBy]}, which proves this address is yours. It already had a Ballast account that had never been confirmed, perhaps created by someone else.`,
      'To keep the account yours, the password and name set when it was created were removed, and every session and emailed link of it was cancelled.',
      ...(data.withdrawnRoles.length === 0
        ? []
        : [
            `The request to be ${data.withdrawnRoles.join(', ')} made then was withdrawn: ask an administrator if you need it.`,
          ]),
    ];
    const link = data.resetLink;
    return {
      title: 'Your account is secured',
      text: [
        ...paragraphs,
        ...(link === undefined ? [] : [`To sign in with a password too, choose one:\n\n${link}`]),
      ].join('\n\n'),
      html:
        paragraphs.map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`).join('') +
        (link === undefined
          ? ''
          : `<p>To sign in with a password too, choose one.</p>${button(link, 'Choose a password')}`),
    };
  },
});

export const approvalRequestedNotice = defineNotification({
  type: 'platform.approval-requested',
  title: 'Role requests awaiting your approval',
  data: z.object({ applicant: z.string(), role: z.string(), roleTitle: z.string(), link: z.url() }),
  channels: ['in_app', 'email'],
  render: (data) => ({
    title: `${data.applicant} asks to be ${data.roleTitle}`,
    text: `${data.applicant} registered and asks for the role ${data.roleTitle} (${data.role}). Approve or decline: ${data.link}`,
    link: '/admin/users',
  }),
});

export const roleApprovedNotice = defineNotification({
  type: 'platform.role-approved',
  title: 'Role approved',
  data: z.object({ role: z.string(), roleTitle: z.string() }),
  channels: ['in_app', 'email'],
  mandatory: true,
  render: (data) => ({
    title: `You are now ${data.roleTitle}`,
    text: `Your request for the role ${data.roleTitle} was approved. Sign in to continue.`,
  }),
});

export const authNotifications = [
  verifyEmailNotice,
  passwordResetNotice,
  accountExistsNotice,
  accountSecuredNotice,
  approvalRequestedNotice,
  roleApprovedNotice,
];
