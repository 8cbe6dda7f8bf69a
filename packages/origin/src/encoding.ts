/** True for content types worth compressing (text, scripts, data, SVG, fonts without built-in compression). */
export function isCompressible(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type.startsWith('application/javascript') ||
    type.startsWith('application/json') ||
    type.startsWith('application/xml') ||
    type.startsWith('application/manifest+json') ||
    type.startsWith('application/wasm') ||
    type.startsWith('image/svg+xml') ||
    type.startsWith('image/x-icon') ||
    type.startsWith('image/vnd.microsoft.icon') ||
    type.startsWith('font/ttf') ||
    type.startsWith('font/otf') ||
    /\+(?:xml|json)\b/.test(type)
  );
}

/** Which compressed variants a client accepts: bit 1 = br, bit 2 = gzip; bit 4 = br preferred over gzip. */
export const ACCEPT_BR = 1;
export const ACCEPT_GZIP = 2;
export const PREFER_GZIP = 4;

/**
 * Parsed Accept-Encoding values, by header text. Browsers send a handful of
 * distinct values, so the parse runs once per value; the cap keeps a client
 * sending a new value per request from growing it without bound.
 */
const acceptCache = new Map<string, number>();
const ACCEPT_CACHE_MAX = 256;

/** Parses Accept-Encoding (RFC 9110 §12.5.3, q-values) into ACCEPT_* bits; cached per header value. */
export function parseAcceptEncoding(header: string): number {
  const cached = acceptCache.get(header);
  if (cached !== undefined) return cached;
  let br = -1;
  let gz = -1;
  let star = -1;
  for (const part of header.split(',')) {
    const [rawName = '', ...params] = part.split(';');
    const name = rawName.trim().toLowerCase();
    let q = 1;
    for (const param of params) {
      const [key = '', value = ''] = param.split('=');
      if (key.trim().toLowerCase() === 'q') {
        const parsed = Number(value.trim());
        q = Number.isFinite(parsed) && parsed >= 0 && parsed <= 1 ? parsed : 0;
      }
    }
    if (name === 'br') br = q;
    else if (name === 'gzip' || name === 'x-gzip') gz = q;
    else if (name === '*') star = q;
  }
  if (br < 0) br = star < 0 ? 0 : star;
  if (gz < 0) gz = star < 0 ? 0 : star;
  const bits = (br > 0 ? ACCEPT_BR : 0) | (gz > 0 ? ACCEPT_GZIP : 0) | (gz > br ? PREFER_GZIP : 0);
  if (acceptCache.size < ACCEPT_CACHE_MAX) acceptCache.set(header, bits);
  return bits;
}
