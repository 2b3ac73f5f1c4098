// Shows live readiness on the home page; the page works without it.
const badge = document.getElementById('readiness');

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

if (badge) {
  void refresh();
  setInterval(refresh, 15000);
}
