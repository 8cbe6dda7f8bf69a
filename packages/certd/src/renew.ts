import type { RenewalInfo } from './acme.js';
import type { CertificateState, IssuedCertificate } from './state.js';

/** Certificates this short-lived (10 days, in ms) renew at half their lifetime instead of a third left. */
export const SHORT_LIVED_MS = 10 * 24 * 3_600_000;

/**
 * When to renew without ARI: with a third of the lifetime left, or at half of
 * it for certificates of 10 days or less (a 6-day certificate renews on day 3).
 */
export function renewalTimeByLifetime(
  cert: Pick<IssuedCertificate, 'notBefore' | 'notAfter'>,
): number {
  const lifetime = cert.notAfter - cert.notBefore;
  return lifetime <= SHORT_LIVED_MS ? cert.notBefore + lifetime / 2 : cert.notAfter - lifetime / 3;
}

/**
 * RFC 9773 §4.2: pick a uniformly random time inside the suggested window; if
 * the window is already over, renew now. `random` is in [0, 1).
 */
export function renewalTimeByAri(
  info: Pick<RenewalInfo, 'start' | 'end'>,
  now: number,
  random: number,
): number {
  if (info.end <= now) return now;
  const start = Math.max(info.start, now);
  return start + Math.floor((info.end - start) * random);
}

/** True when the certificate must be (re)obtained now: none yet, names changed, or its renewal time has come. */
export function needsRenewal(
  state: CertificateState,
  names: readonly string[],
  now: number,
): boolean {
  if (!state.current) return true;
  if (!sameNames(state.current.names, names)) return true;
  if (state.current.notAfter <= now) return true;
  return (state.renewAt ?? renewalTimeByLifetime(state.current)) <= now;
}

/** The same set of names, ignoring order and case. */
export function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const norm = (list: readonly string[]) =>
    [...new Set(list.map((n) => n.toLowerCase()))].sort().join(',');
  return norm(a) === norm(b);
}
