import picomatch from 'picomatch';
import type { HeaderRule } from '@owncdn/core';

/**
 * Cache-Control defaults for a static site. Fingerprinted assets never
 * change under their name, so caches may keep them for a year without
 * asking (RFC 8246 `immutable`). HTML names stay the same across releases,
 * so caches revalidate it after a minute (a cheap 304 thanks to the ETag).
 * Anything else (images, feeds, unhashed CSS) gets an hour.
 */
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
export const CACHE_HTML = 'public, max-age=60, must-revalidate';
export const CACHE_OTHER = 'public, max-age=3600';

/**
 * A content hash in a file name: `app.3f9a2c1e.js`, `index-BxK3dM2a.css`,
 * `chunk.a1b2c3d4e5.mjs` — 8 or more word characters, at least one a digit,
 * between `.` or `-` and the extension.
 */
const FINGERPRINT = /[.-](?=[A-Za-z_]*\d)[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$/;

/** True when a URL path names a fingerprinted (content-addressed) asset. */
export function isFingerprinted(urlPath: string): boolean {
  return FINGERPRINT.test(urlPath);
}

/** The default Cache-Control for a path of that content type. */
export function defaultCacheControl(urlPath: string, type: string): string {
  if (type.startsWith('text/html')) return CACHE_HTML;
  return isFingerprinted(urlPath) ? CACHE_IMMUTABLE : CACHE_OTHER;
}

/** Header rules compiled once per config: globs become matchers. */
export type CompiledRules = readonly {
  readonly test: (path: string) => boolean;
  readonly headers: Readonly<Record<string, string>>;
}[];

/** Compiles `origin.headers` (picomatch globs over the URL path, dotfiles included). */
export function compileRules(rules: readonly HeaderRule[]): CompiledRules {
  return rules.map((rule) => ({
    test: picomatch(rule.match, { dot: true }),
    headers: rule.headers,
  }));
}

/**
 * The headers config adds to a path: every matching rule in order, a later
 * rule overriding an earlier one for the same (case-insensitive) name.
 */
export function headersFor(urlPath: string, rules: CompiledRules): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rule of rules) {
    if (!rule.test(urlPath)) continue;
    for (const [name, value] of Object.entries(rule.headers)) out[name.toLowerCase()] = value;
  }
  return out;
}
