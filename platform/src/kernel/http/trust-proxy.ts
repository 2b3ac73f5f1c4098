import { isIP } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';

/**
 * Which peers may say who the client is (`X-Forwarded-For`, `-Proto`, `-Host`): nobody (false),
 * every hop (true), the nearest `n` hops, or the listed proxy addresses and CIDR ranges.
 */
export type TrustProxy = boolean | number | readonly string[];

/** The ranges @fastify/proxy-addr knows by name. */
const namedRanges = new Set(['loopback', 'linklocal', 'uniquelocal']);
const MAX_HOPS = 32;

/**
 * Reads `TRUST_PROXY` as operators write it: `false`/`0`/unset, `true`, a hop count (`1`), or
 * comma-separated addresses and CIDR ranges, IPv4 and IPv6 mixed, spaces allowed
 * (`10.0.0.0/8, 2001:db8::/32, 192.168.1.7`). `problems` names each entry that is none of these.
 */
export function parseTrustProxy(value: string | undefined): { trust: TrustProxy; problems: readonly string[] } {
  const text = value?.trim() ?? '';
  const lowered = text.toLowerCase();
  if (lowered === '' || lowered === 'false' || lowered === '0') return { trust: false, problems: [] };
  if (lowered === 'true') return { trust: true, problems: [] };
  if (/^\d+$/.test(lowered)) {
    const hops = Number(lowered);
    return hops <= MAX_HOPS
      ? { trust: hops, problems: [] }
      : { trust: false, problems: [`${lowered} hops is more than ${MAX_HOPS}; count the proxies in front of Ballast`] };
  }
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const problems = entries
    .filter((entry) => !isTrustEntry(entry))
    .map(
      (entry) =>
        `"${entry}" is not an IP address or CIDR range; write true, a hop count, or addresses such as 10.0.0.0/8, ::1`,
    );
  return { trust: entries, problems };
}

function isTrustEntry(entry: string): boolean {
  if (namedRanges.has(entry)) return true;
  // proxy-addr would also take "1" or "3232235521" as an IPv4 address: only the usual notations pass.
  const slash = entry.lastIndexOf('/');
  if (isIP(slash === -1 ? entry : entry.slice(0, slash)) === 0) return false;
  try {
    proxyAddr.compile(entry);
    return true;
  } catch {
    return false;
  }
}

/**
 * The form Fastify honours: a function of (address, hop). Fastify 5 treats a bare hop count as
 * "trust nobody" (it cannot check the nearest peer), so a count becomes `hop < count` here: the
 * operator vouches that only their proxies can reach the server.
 */
export function trustProxyFunction(trust: TrustProxy): false | ((address: string, hop: number) => boolean) {
  if (trust === false) return false;
  if (trust === true) return () => true;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile([...trust]);
}

/** Which clients are trusted to name the client, in words, e.g. "trusting 1 hop (the nearest proxy)". */
export function describeTrustProxy(trust: TrustProxy): string {
  if (trust === false) return 'off: the client IP is the connecting address and X-Forwarded-For is ignored';
  if (trust === true)
    return 'trusting every hop: the client IP is the leftmost X-Forwarded-For entry, which any client can write';
  if (typeof trust === 'number') {
    return trust === 1 ? 'trusting 1 hop (the nearest proxy)' : `trusting ${trust} hops (the nearest ${trust} proxies)`;
  }
  return `trusting ${trust.join(', ')}`;
}
