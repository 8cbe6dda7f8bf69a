import { CLASS_IN } from './wire.js';

/**
 * Building DNS messages (RFC 1035 §4.1) off the hot path: names and keys,
 * the compressing writer the precomputed answers are made with.
 */

/** `www.example.org` → its wire key (`\x03www\x07example\x03org`, no root octet), as parseQuery produces. */
export function nameKey(name: string): string {
  if (name === '') return '';
  let out = '';
  for (const label of name.toLowerCase().split('.'))
    out += String.fromCharCode(label.length) + label;
  return out;
}

/** Number of labels of a dotted name (`''` = root = 0). */
export function labelCount(name: string): number {
  return name === '' ? 0 : name.split('.').length;
}

/** Decodes a wire key back to a dotted lower-case name (for logs, metrics and the slow path). */
export function keyToName(key: string): string {
  const labels: string[] = [];
  let i = 0;
  while (i < key.length) {
    const len = key.charCodeAt(i);
    labels.push(key.slice(i + 1, i + 1 + len));
    i += 1 + len;
  }
  return labels.join('.');
}

/**
 * Builds a DNS message with name compression (RFC 1035 §4.1.4). Used off the
 * hot path, whenever the config, health or TXT data change.
 */
export class MessageWriter {
  #buf = Buffer.alloc(512);
  #length = 0;
  /** Dotted name suffix → offset where it was written, for compression pointers. */
  readonly #names = new Map<string, number>();
  /**
   * Position-independent mode (wildcard answers): `qnameAlias` is written as
   * a pointer to offset 12, the question name of whatever query this tail
   * follows, and nothing else is compressed.
   */
  readonly #qnameAlias: string | null;

  constructor(options: { qnameAlias?: string } = {}) {
    this.#qnameAlias = options.qnameAlias ?? null;
  }

  get length(): number {
    return this.#length;
  }

  #reserve(n: number): void {
    if (this.#length + n <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.#length + n));
    this.#buf.copy(next, 0, 0, this.#length);
    this.#buf = next;
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#buf[this.#length++] = value & 0xff;
  }

  u16(value: number): void {
    this.#reserve(2);
    this.#buf.writeUInt16BE(value & 0xffff, this.#length);
    this.#length += 2;
  }

  u32(value: number): void {
    this.#reserve(4);
    this.#buf.writeUInt32BE(value >>> 0, this.#length);
    this.#length += 4;
  }

  bytes(data: Uint8Array): void {
    this.#reserve(data.length);
    this.#buf.set(data, this.#length);
    this.#length += data.length;
  }

  /** Patches a 16-bit value already written at `offset`. */
  patch16(offset: number, value: number): void {
    this.#buf.writeUInt16BE(value & 0xffff, offset);
  }

  /** Writes a dotted name; `compress: false` for RDATA that must not be compressed (SRV target, RFC 2782). */
  name(name: string, compress = true): void {
    const lower = name.toLowerCase();
    if (this.#qnameAlias !== null) {
      if (lower === this.#qnameAlias) {
        this.u16(0xc00c);
        return;
      }
      compress = false;
    }
    const labels = lower === '' ? [] : lower.split('.');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      const at = this.#names.get(suffix);
      if (compress && at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      // Pointers are 14 bits: only names in the first 16 KiB can be targets.
      if (this.#length < 0x4000 && !this.#names.has(suffix)) this.#names.set(suffix, this.#length);
      const label = labels[i] ?? '';
      this.u8(label.length);
      this.bytes(Buffer.from(label, 'latin1'));
    }
    this.u8(0);
  }

  /** Writes one resource record; `rdata` writes the RDATA, whose length is filled in after. */
  record(name: string, type: number, ttl: number, rdata: (w: MessageWriter) => void): void {
    this.name(name);
    this.u16(type);
    this.u16(CLASS_IN);
    this.u32(Math.min(ttl, 0x7fffffff));
    const at = this.#length;
    this.u16(0);
    rdata(this);
    this.patch16(at, this.#length - at - 2);
  }

  /** A copy of what was written. */
  finish(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#length));
  }
}

/** Header flags of a response: QR, AA when authoritative, and the RCODE (low 4 bits). */
export function responseFlags(rcode: number, authoritative: boolean): number {
  return 0x8000 | (authoritative ? 0x0400 : 0) | (rcode & 0x0f);
}
