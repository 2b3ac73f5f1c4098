// The "Sign out" button of server-rendered pages (home, tasks, development inbox, error pages):
// an external script, so the strict CSP (script-src 'self') holds. It calls the same API as the
// React pages, with the CSRF token from the readable ballast_csrf cookie. Without JavaScript the
// button stays hidden and the account page offers sign-out.
const button = document.querySelector('[data-sign-out]');

function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'ballast_csrf') return decodeURIComponent(rest.join('='));
  }
  return '';
}

if (button !== null) {
  button.hidden = false;
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Signing out…';
    try {
      const response = await fetch('/api/auth/sign-out', {
        method: 'POST',
        headers: { 'x-csrf-token': csrfToken() },
        credentials: 'same-origin',
      });
      // 401: already signed out elsewhere; either way the session is over here.
      if (response.ok || response.status === 401) {
        location.assign('/sign-in');
        return;
      }
      button.textContent = 'Sign out failed: try again';
    } catch {
      button.textContent = 'Sign out failed: try again';
    }
    button.disabled = false;
  });
}
