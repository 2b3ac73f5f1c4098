import { z } from 'zod';
import { escapeHtml } from '#platform/kernel/http/html.ts';
import { defineNotification } from '#platform/modules/notify/define-notification.ts';

function button(link: string, label: string): string {
  return `<p><a href="${escapeHtml(link)}" style="display:inline-block;padding:10px 18px;background:#1d3557;color:#fff;border-radius:6px;text-decoration:none">${escapeHtml(label)}</a></p>
<p style="font-size:13px;color:#5c677d">Or paste this address into your browser: ${escapeHtml(link)}</p>`;
}

export const verifyEmailNotice = defineNotification({
  type: 'platform.verify-email',
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
  data: z.object({ resetLink: z.url() }),
  channels: ['email'],
  mandatory: true,
  render: (data) => ({
    title: 'You already have an account',
    text: `Someone tried to create a Ballast account with this address, which already has one. If it was you and you forgot your password, reset it here:\n\n${data.resetLink}`,
  }),
});

export const approvalRequestedNotice = defineNotification({
  type: 'platform.approval-requested',
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
  approvalRequestedNotice,
  roleApprovedNotice,
];
