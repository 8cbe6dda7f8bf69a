import { absoluteName } from '@owncdn/core';
import type { StaticRecord } from '@owncdn/core';
import { TYPE } from './wire.js';
import type { MessageWriter } from './writer.js';

/** Writes one record's RDATA. */
export type RdataWriter = (w: MessageWriter) => void;

/** A record ready to encode: owner (dotted, lower-case), type number, TTL and RDATA. */
export interface WireRecord {
  readonly name: string;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: RdataWriter;
  /** For CNAME, NS, MX and SRV: the name the record points at (CNAME chasing, glue). */
  readonly target: string | null;
}

/** `203.0.113.10` → 4 bytes. The config loader has already checked the syntax. */
export function ipv4Bytes(text: string): Uint8Array {
  const out = new Uint8Array(4);
  text.split('.').forEach((part, i) => (out[i] = Number(part) & 0xff));
  return out;
}

/** `2001:db8::10` (also with an embedded IPv4 tail) → 16 bytes. */
export function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let body = text;
  let tail: Uint8Array | null = null;
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.', lastColon)) {
    tail = ipv4Bytes(body.slice(lastColon + 1));
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = body.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  groups.slice(0, 8).forEach((group, i) => {
    const value = parseInt(group, 16);
    out[i * 2] = value >> 8;
    out[i * 2 + 1] = value & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

/** RFC 1035 §3.3: <character-string>s of at most 255 octets. */
function characterStrings(text: string): Buffer[] {
  const trimmed = text.trim();
  let parts: string[];
  if (trimmed.startsWith('"')) {
    // `"part one" "part two"`, with \" and \\ escapes, as in zone files.
    parts = [];
    const re = /"((?:[^"\\]|\\.)*)"/g;
    for (let m = re.exec(trimmed); m; m = re.exec(trimmed))
      parts.push((m[1] ?? '').replace(/\\(.)/g, '$1'));
  } else {
    parts = [text];
  }
  const out: Buffer[] = [];
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    if (bytes.length === 0) out.push(bytes);
    for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  }
  return out;
}

/** RDATA of a TXT record with one value (also used for the DNS-01 values set through the API). */
export function txtRdata(text: string): RdataWriter {
  const strings = characterStrings(text);
  return (w) => {
    for (const s of strings) {
      w.u8(s.length);
      w.bytes(s);
    }
  };
}

/**
 * A name in a record value: `mail.example.org.` and `mail.example.org` are
 * taken as written, a single label such as `mail` is relative to the zone.
 * (A zone file would make every dot-less-at-the-end name relative; in YAML
 * people write `ghs.googlehosted.com` and mean it.)
 */
function target(value: string, zone: string): string {
  const name = value.toLowerCase();
  if (name.endsWith('.') || name.includes('.')) return name.replace(/\.$/, '');
  return absoluteName(name, zone);
}

/** Turns a validated static record from owncdn.yaml into its wire form. */
export function staticRecord(record: StaticRecord, zone: string): WireRecord {
  const base = { name: record.name, ttl: record.ttl };
  const fields = record.value.trim().split(/\s+/);
  switch (record.type) {
    case 'A': {
      const bytes = ipv4Bytes(record.value.trim());
      return { ...base, type: TYPE.A, target: null, rdata: (w) => w.bytes(bytes) };
    }
    case 'AAAA': {
      const bytes = ipv6Bytes(record.value.trim());
      return { ...base, type: TYPE.AAAA, target: null, rdata: (w) => w.bytes(bytes) };
    }
    case 'CNAME':
    case 'NS': {
      const name = target(record.value.trim(), zone);
      return {
        ...base,
        type: record.type === 'NS' ? TYPE.NS : TYPE.CNAME,
        target: name,
        rdata: (w) => w.name(name),
      };
    }
    case 'MX': {
      const preference = Number(fields[0]);
      const name = target(fields[1] ?? '', zone);
      return {
        ...base,
        type: TYPE.MX,
        target: name,
        rdata: (w) => {
          w.u16(preference);
          w.name(name);
        },
      };
    }
    case 'SRV': {
      const [priority, weight, port] = fields.slice(0, 3).map(Number);
      const name = target(fields[3] ?? '', zone);
      return {
        ...base,
        type: TYPE.SRV,
        target: name,
        rdata: (w) => {
          w.u16(priority ?? 0);
          w.u16(weight ?? 0);
          w.u16(port ?? 0);
          // RFC 2782: the SRV target is not compressed.
          w.name(name, false);
        },
      };
    }
    case 'CAA': {
      // RFC 8659 §4.1: flags, tag length, tag, value (the value's quotes are presentation only).
      const match = /^(\d+)\s+([a-z0-9]+)\s+(.*)$/i.exec(record.value.trim());
      const flags = Number(match?.[1] ?? 0);
      const tag = Buffer.from((match?.[2] ?? '').toLowerCase(), 'latin1');
      const value = Buffer.from((match?.[3] ?? '').replace(/^"(.*)"$/, '$1'), 'utf8');
      return {
        ...base,
        type: TYPE.CAA,
        target: null,
        rdata: (w) => {
          w.u8(flags);
          w.u8(tag.length);
          w.bytes(tag);
          w.bytes(value);
        },
      };
    }
    case 'TXT':
      return { ...base, type: TYPE.TXT, target: null, rdata: txtRdata(record.value) };
  }
}
