/**
 * Turns a request target into the key of the site's route table, or null
 * when the target must be refused (400). The table only holds paths found
 * under the served directory, so a key that is not in it is a 404 however
 * it is spelled; refusing odd spellings early keeps logs and caches clean.
 */
export function lookupKey(target: string): string | null {
  // Origin-form only (RFC 9112 §3.2.1); absolute-form and `*` are for proxies.
  if (target.charCodeAt(0) !== 47 /* / */) return null;
  const query = target.indexOf('?');
  let path = query === -1 ? target : target.slice(0, query);
  const fragment = path.indexOf('#');
  if (fragment !== -1) path = path.slice(0, fragment);
  // Decode once, and only when there is something to decode (sirv): `%252e` stays `%2e`.
  if (path.includes('%')) {
    try {
      // Overlong UTF-8 (`%c0%ae`) and stray `%` throw URIError here.
      path = decodeURIComponent(path);
    } catch {
      return null;
    }
  }
  if (path.includes('\0') || path.includes('\\')) return null;
  if (path.includes('/.') && hasDotSegment(path)) return null;
  return path;
}

/** True when a segment is `.` or `..` (RFC 3986 §3.3 dot-segments), which no file in the table can have. */
function hasDotSegment(path: string): boolean {
  for (const segment of path.split('/')) if (segment === '.' || segment === '..') return true;
  return false;
}

/** The query part of a target including its `?`, or '' — kept on redirects. */
export function queryOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? '' : target.slice(query);
}
