// Shows live readiness in the home page's footer, and the first-run notice while no
// administrator exists; the page works without it.
const badge = document.getElementById('readiness');
const setupNotice = document.getElementById('setup-notice');

async function refresh() {
  try {
    const response = await fetch('/readyz', { headers: { accept: 'application/json' } });
    const report = await response.json();
    const failing = Object.entries(report.checks ?? {})
      .filter(([, check]) => check.status !== 'ok')
      .map(([name]) => name);
    badge.dataset.state = response.ok ? 'ok' : 'fail';
    badge.textContent = response.ok ? 'ready' : `not ready (${failing.join(', ') || report.status})`;
  } catch {
    badge.dataset.state = 'fail';
    badge.textContent = 'unreachable';
  }
}

async function checkSetup() {
  try {
    const response = await fetch('/api/auth/config', { headers: { accept: 'application/json' } });
    if (!response.ok) return;
    const config = await response.json();
    if (config.setupRequired === true) setupNotice.hidden = false;
  } catch {
    // The notice stays hidden; sign-in says the same.
  }
}

if (badge) {
  void refresh();
  setInterval(refresh, 15000);
}
if (setupNotice) void checkSetup();
