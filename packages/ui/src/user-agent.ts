/**
 * A User-Agent string as people name their device: "Firefox on Linux", "Safari on iPhone".
 * Good enough to tell sessions apart; not a detection library. Unknown agents answer "Unknown
 * browser", and API clients (curl, scripts) their own product name.
 */
export function describeUserAgent(userAgent: string | null): string {
  if (userAgent === null || userAgent.trim() === '') return 'Unknown browser';
  const ua = userAgent;
  const browser = /Edg(e|A|iOS)?\//.test(ua)
    ? 'Edge'
    : /OPR\/|Opera/.test(ua)
      ? 'Opera'
      : /Firefox\/|FxiOS\//.test(ua)
        ? 'Firefox'
        : /Chrome\/|CriOS\/|Chromium\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua) && /Version\//.test(ua)
            ? 'Safari'
            : /Safari\//.test(ua)
              ? 'Safari'
              : undefined;
  const os = /iPhone/.test(ua)
    ? 'iPhone'
    : /iPad/.test(ua)
      ? 'iPad'
      : /Android/.test(ua)
        ? 'Android'
        : /Windows/.test(ua)
          ? 'Windows'
          : /Mac OS X|Macintosh/.test(ua)
            ? 'macOS'
            : /CrOS/.test(ua)
              ? 'ChromeOS'
              : /Linux/.test(ua)
                ? 'Linux'
                : undefined;
  if (browser === undefined) {
    // API clients name themselves first: "curl/8.5.0", "node", "python-requests/2.32".
    const product = /^([A-Za-z][\w.-]*)/.exec(ua)?.[1];
    return product === undefined || product === 'Mozilla' ? 'Unknown browser' : product;
  }
  return os === undefined ? browser : `${browser} on ${os}`;
}
