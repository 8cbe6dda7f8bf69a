/**
 * Who asked: the socket's address or the ECS address, as numbers for the
 * geo table and RRL, and whether an ECS address says anything about where
 * the client is.
 */

/** A client address in numeric form: family 4 or 6 and its first 64 bits. */
export interface Client {
  family: number;
  hi: number;
  lo: number;
}

/** `203.0.113.9`, `::ffff:203.0.113.9` or an IPv6 address → family and first 64 bits. */
export function parseAddress(address: string, out: Client): void {
  const v4 = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  if (v4.includes('.')) {
    let value = 0;
    let part = 0;
    for (let i = 0; i < v4.length; i++) {
      const c = v4.charCodeAt(i);
      if (c === 46) {
        value = value * 256 + part;
        part = 0;
      } else part = part * 10 + (c - 48);
    }
    out.family = 4;
    out.hi = (value * 256 + part) >>> 0;
    out.lo = 0;
    return;
  }
  const zone = address.indexOf('%');
  const text = zone >= 0 ? address.slice(0, zone) : address;
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [
    ...left,
    ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'),
    ...right,
  ];
  const g = (i: number) => parseInt(groups[i] ?? '0', 16) & 0xffff;
  out.family = 6;
  out.hi = ((g(0) << 16) | g(1)) >>> 0;
  out.lo = ((g(2) << 16) | g(3)) >>> 0;
}

/**
 * RFC 7871 §11.3 / RFC 6890: an ECS address worth routing on. Private,
 * loopback, link-local, shared, documentation and multicast space say
 * nothing about where the client is; the packet's source is used instead.
 */
export function isGlobal(family: number, a: Uint8Array): boolean {
  const b0 = a[0] ?? 0;
  const b1 = a[1] ?? 0;
  const b2 = a[2] ?? 0;
  if (family === 1) {
    if (b0 === 0 || b0 === 10 || b0 === 127 || b0 >= 224) return false;
    if (b0 === 100 && (b1 & 0xc0) === 64) return false;
    if (b0 === 169 && b1 === 254) return false;
    if (b0 === 172 && (b1 & 0xf0) === 16) return false;
    if (b0 === 192 && b1 === 168) return false;
    if (b0 === 192 && b1 === 0 && (b2 === 0 || b2 === 2)) return false;
    if (b0 === 198 && (b1 & 0xfe) === 18) return false;
    if (b0 === 198 && b1 === 51 && b2 === 100) return false;
    if (b0 === 203 && b1 === 0 && b2 === 113) return false;
    return true;
  }
  // Global unicast is 2000::/3; 2001:db8::/32 is documentation.
  if ((b0 & 0xe0) !== 0x20) return false;
  if (b0 === 0x20 && b1 === 0x01 && b2 === 0x0d && a[3] === 0xb8) return false;
  return true;
}
