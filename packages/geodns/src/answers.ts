import { isInZone } from '@owncdn/core';
import type { Config } from '@owncdn/core';
import { computeClasses, pickNodes } from './select.js';
import type { AnswerClasses } from './select.js';
import { ipv4Bytes, ipv6Bytes, staticRecord, txtRdata } from './rdata.js';
import type { WireRecord } from './rdata.js';
import { RCODE, TYPE } from './wire.js';
import { MessageWriter, labelCount, nameKey, responseFlags } from './writer.js';

/**
 * The zone as precomputed wire-format responses, rebuilt whole whenever the
 * config, a node's health or the DNS-01 TXT values change, then swapped in
 * (STYLE.md §7). Per query the server only copies a buffer and patches it.
 */

/** Everything a snapshot is built from. */
export interface ZoneInput {
  readonly config: Config;
  /** Node name → serving (probe state with any override applied). */
  readonly up: ReadonlyMap<string, boolean>;
  /** DNS-01 values set through the API: owner (dotted, lower-case) → values. */
  readonly txt: ReadonlyMap<string, readonly string[]>;
  /** SOA serial (RFC 1982 arithmetic; it changes whenever the data does). */
  readonly serial: number;
}

/** What every precomputed answer carries besides its bytes. */
interface AnswerMeta {
  /** True when the bytes differ by the client's answer class (continent). */
  readonly geo: boolean;
  /** Stable within a snapshot; RRL counts identical responses by it. */
  readonly id: number;
  readonly rcode: number;
}

/** One precomputed answer: a response per answer class when it depends on the client, else one. */
export interface Entry extends AnswerMeta {
  readonly responses: readonly Buffer[];
}

/**
 * A wildcard's answer (RFC 4592) for names of any length: the header, then a
 * tail of records that refer to the question only by a pointer to offset 12;
 * the query's own question goes between them.
 */
export interface TailEntry extends AnswerMeta {
  readonly header: Buffer;
  readonly tails: readonly Buffer[];
}

/** Answers by QTYPE, and the one for any other QTYPE (NODATA, a referral, or a CNAME chain ending in NODATA). */
interface ByType<T> {
  readonly types: ReadonlyMap<number, T>;
  readonly other: T;
}

export type NameEntry = ByType<Entry>;
export type WildcardEntry = ByType<TailEntry>;

export interface Snapshot {
  readonly zone: string;
  readonly zoneKey: string;
  readonly zoneLabels: number;
  readonly serial: number;
  /** Wire key (see wire.ts nameKey) → answers. */
  readonly names: ReadonlyMap<string, NameEntry>;
  /** Keys of delegation points (NS below the apex). */
  readonly cuts: ReadonlySet<string>;
  /** Closest-encloser key (the name after `*.`) → the wildcard's answers. */
  readonly wildcards: ReadonlyMap<string, WildcardEntry>;
  /** The negative SOA record for NXDOMAIN, owner left as a 2-byte pointer to fill in. */
  readonly nxdomainSoa: Buffer;
  /** RRL id shared by every NXDOMAIN (RFC-style RRL counts them per zone). */
  readonly nxdomainId: number;
  readonly classes: AnswerClasses;
  /** Builds a referral for a name below a cut (rare: built per query). */
  referral(qname: string, cutName: string): Buffer;
}

/** The types precomputed for every name; any other QTYPE gets the `other` answer. */
const PRECOMPUTED_TYPES = [
  TYPE.A,
  TYPE.AAAA,
  TYPE.NS,
  TYPE.CNAME,
  TYPE.SOA,
  TYPE.MX,
  TYPE.TXT,
  TYPE.SRV,
  TYPE.CAA,
  TYPE.ANY,
];
/** RFC 8482 §4.1: ANY gets one RRset; this is the order of preference. */
const ANY_ORDER = [TYPE.A, TYPE.AAAA, TYPE.MX, TYPE.TXT, TYPE.CAA, TYPE.SRV, TYPE.NS, TYPE.SOA];
/** CNAME chains longer than this stop where they are (BIND and Knot use similar limits). */
const MAX_CNAME_HOPS = 8;

interface Resolution {
  answer: WireRecord[];
  authority: WireRecord[];
  additional: WireRecord[];
  rcode: number;
  aa: boolean;
  geo: boolean;
}

/** Builds the whole snapshot. Pure: the same input gives the same bytes. */
export function buildSnapshot(input: ZoneInput): Snapshot {
  const { config } = input;
  const zone = config.site.domain;
  const dns = config.dns;
  const classes = computeClasses(config);
  const byName = new Map<string, Map<number, WireRecord[]>>();
  const add = (record: WireRecord) => {
    let types = byName.get(record.name);
    if (!types) byName.set(record.name, (types = new Map<number, WireRecord[]>()));
    const list = types.get(record.type) ?? [];
    list.push(record);
    types.set(record.type, list);
  };

  const soaRdata = (w: MessageWriter) => {
    w.name(dns.soa.mname);
    w.name(dns.soa.rname);
    w.u32(input.serial);
    w.u32(dns.soa.refreshS);
    w.u32(dns.soa.retryS);
    w.u32(dns.soa.expireS);
    w.u32(dns.soa.minimumS);
  };
  add({ name: zone, type: TYPE.SOA, ttl: dns.staticTtl, rdata: soaRdata, target: null });
  // RFC 2308 §3: the negative answer's SOA carries min(SOA TTL, MINIMUM).
  const negativeTtl = Math.min(dns.staticTtl, dns.soa.minimumS);
  const negativeSoa: WireRecord = {
    name: zone,
    type: TYPE.SOA,
    ttl: negativeTtl,
    rdata: soaRdata,
    target: null,
  };
  for (const ns of dns.nameservers) {
    add({
      name: zone,
      type: TYPE.NS,
      ttl: dns.staticTtl,
      rdata: (w) => w.name(ns.name),
      target: ns.name,
    });
    if (!isInZone(ns.name, zone)) continue;
    // Glue for in-zone nameservers (RFC 9471: required in referrals from the parent; we serve it as data too).
    if (ns.ipv4) {
      const bytes = ipv4Bytes(ns.ipv4);
      add({
        name: ns.name,
        type: TYPE.A,
        ttl: dns.staticTtl,
        rdata: (w) => w.bytes(bytes),
        target: null,
      });
    }
    if (ns.ipv6) {
      const bytes = ipv6Bytes(ns.ipv6);
      add({
        name: ns.name,
        type: TYPE.AAAA,
        ttl: dns.staticTtl,
        rdata: (w) => w.bytes(bytes),
        target: null,
      });
    }
  }
  for (const record of dns.records) add(staticRecord(record, zone));
  for (const [name, values] of input.txt) {
    for (const value of values)
      add({ name, type: TYPE.TXT, ttl: dns.ttl, rdata: txtRdata(value), target: null });
  }

  const geoNames = new Set(config.site.names);
  const geoRecords = classes.nodes.map((listed) => {
    const chosen = pickNodes(listed, config.nodes, input.up);
    const a = chosen.map((n): WireRecord => {
      const bytes = ipv4Bytes(n.ipv4);
      return { name: '', type: TYPE.A, ttl: dns.ttl, rdata: (w) => w.bytes(bytes), target: null };
    });
    const aaaa = chosen.flatMap((n): WireRecord[] => {
      if (!n.ipv6) return [];
      const bytes = ipv6Bytes(n.ipv6);
      return [
        { name: '', type: TYPE.AAAA, ttl: dns.ttl, rdata: (w) => w.bytes(bytes), target: null },
      ];
    });
    return { a, aaaa };
  });

  // Every owner and its ancestors up to the apex exist (empty non-terminals, RFC 8020: NODATA, not NXDOMAIN).
  const names = new Set<string>([zone, ...geoNames, ...byName.keys()]);
  for (const name of [...names]) {
    for (let n = name; n !== zone && n.includes('.'); n = n.slice(n.indexOf('.') + 1)) names.add(n);
  }
  const cuts = new Set<string>(
    [...byName]
      .filter(([name, types]) => name !== zone && types.has(TYPE.NS))
      .map(([name]) => name),
  );
  const cutFor = (name: string): string | null => {
    for (let n = name; n !== zone && n.includes('.'); n = n.slice(n.indexOf('.') + 1))
      if (cuts.has(n)) return n;
    return null;
  };

  const glueFor = (targets: readonly (string | null)[]): WireRecord[] =>
    targets.flatMap((t) =>
      t && isInZone(t, zone) && !geoNames.has(t)
        ? [...(byName.get(t)?.get(TYPE.A) ?? []), ...(byName.get(t)?.get(TYPE.AAAA) ?? [])]
        : [],
    );

  const referralOf = (cut: string): Resolution => {
    const ns = byName.get(cut)?.get(TYPE.NS) ?? [];
    return {
      answer: [],
      authority: ns,
      additional: glueFor(ns.map((r) => r.target)),
      rcode: RCODE.NOERROR,
      aa: false,
      geo: false,
    };
  };

  const recordsAt = (name: string, type: number, cls: number, r: Resolution): WireRecord[] => {
    if (geoNames.has(name) && (type === TYPE.A || type === TYPE.AAAA)) {
      r.geo = true;
      const set = geoRecords[cls] ?? geoRecords[0];
      const list = type === TYPE.A ? set?.a : set?.aaaa;
      return (list ?? []).map((rec) => ({ ...rec, name }));
    }
    return byName.get(name)?.get(type) ?? [];
  };

  const resolve = (qname: string, qtype: number, cls: number): Resolution => {
    const cut = cutFor(qname);
    if (cut) return referralOf(cut);
    const r: Resolution = {
      answer: [],
      authority: [],
      additional: [],
      rcode: RCODE.NOERROR,
      aa: true,
      geo: false,
    };
    let name = qname;
    for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      if (name !== qname && (!isInZone(name, zone) || cutFor(name))) return r;
      if (!names.has(name)) {
        // RFC 6604: the RCODE describes the last name of the chain.
        r.rcode = RCODE.NXDOMAIN;
        r.authority.push(negativeSoa);
        return r;
      }
      const cname = byName.get(name)?.get(TYPE.CNAME);
      if (cname && cname[0] && qtype !== TYPE.CNAME) {
        r.answer.push(cname[0]);
        if (qtype === TYPE.ANY) return r;
        name = cname[0].target ?? '';
        continue;
      }
      let type = qtype;
      if (qtype === TYPE.ANY) {
        type = ANY_ORDER.find((t) => recordsAt(name, t, cls, r).length > 0) ?? TYPE.SOA;
      }
      const set = recordsAt(name, type, cls, r);
      if (set.length === 0) {
        r.authority.push(negativeSoa);
        return r;
      }
      r.answer.push(...set);
      if (type === TYPE.NS || type === TYPE.MX || type === TYPE.SRV)
        r.additional.push(...glueFor(set.map((rec) => rec.target)));
      return r;
    }
    return r;
  };

  let nextId = 0;
  const entryFor = (qname: string, qtype: number): Entry => {
    const first = resolve(qname, qtype, 0);
    const id = nextId++;
    if (!first.geo)
      return { responses: [encode(qname, qtype, first)], geo: false, id, rcode: first.rcode };
    const responses = classes.nodes.map((_, cls) =>
      encode(qname, qtype, cls === 0 ? first : resolve(qname, qtype, cls)),
    );
    return { responses, geo: true, id, rcode: first.rcode };
  };

  const tailFor = (wildcard: string, qtype: number): TailEntry => {
    const first = resolve(wildcard, qtype, 0);
    const id = nextId++;
    const encodeAll = (r: Resolution) => encodeTail(wildcard, r);
    const tails = first.geo
      ? classes.nodes.map((_, cls) => encodeAll(cls === 0 ? first : resolve(wildcard, qtype, cls)))
      : [encodeAll(first)];
    return {
      header: tails[0]?.header ?? Buffer.alloc(12),
      tails: tails.map((t) => t.tail),
      geo: first.geo,
      id,
      rcode: first.rcode,
    };
  };
  const wildcards = new Map<string, WildcardEntry>();
  for (const name of names) {
    if (!name.startsWith('*.') || cutFor(name)) continue;
    const types = new Map<number, TailEntry>();
    for (const type of PRECOMPUTED_TYPES) types.set(type, tailFor(name, type));
    wildcards.set(nameKey(name.slice(2)), { types, other: tailFor(name, 0) });
  }

  const entries = new Map<string, NameEntry>();
  for (const name of names) {
    const types = new Map<number, Entry>();
    for (const type of PRECOMPUTED_TYPES) types.set(type, entryFor(name, type));
    entries.set(nameKey(name), { types, other: entryFor(name, 0) });
  }

  const soa = new MessageWriter();
  soa.u16(0xc000);
  soa.u16(TYPE.SOA);
  soa.u16(1);
  soa.u32(negativeTtl);
  const rdlengthAt = soa.length;
  soa.u16(0);
  soa.name(dns.soa.mname, false);
  soa.name(dns.soa.rname, false);
  for (const value of [
    input.serial,
    dns.soa.refreshS,
    dns.soa.retryS,
    dns.soa.expireS,
    dns.soa.minimumS,
  ])
    soa.u32(value);
  soa.patch16(rdlengthAt, soa.length - rdlengthAt - 2);

  return {
    zone,
    zoneKey: nameKey(zone),
    zoneLabels: labelCount(zone),
    serial: input.serial,
    names: entries,
    cuts: new Set([...cuts].map(nameKey)),
    wildcards,
    nxdomainSoa: soa.finish(),
    nxdomainId: nextId++,
    classes,
    referral: (qname, cutName) => encode(qname, 0, referralOf(cutName)),
  };
}

/** Encodes a wildcard's resolution: its header (counts, flags) and a position-independent tail. */
function encodeTail(wildcard: string, r: Resolution): { header: Buffer; tail: Buffer } {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(responseFlags(r.rcode, r.aa), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(r.answer.length, 6);
  header.writeUInt16BE(r.authority.length, 8);
  header.writeUInt16BE(r.additional.length, 10);
  const w = new MessageWriter({ qnameAlias: wildcard });
  for (const rec of [...r.answer, ...r.authority, ...r.additional])
    w.record(rec.name, rec.type, rec.ttl, rec.rdata);
  return { header, tail: w.finish() };
}

/** Encodes a resolution as a response to `qname`/`qtype` (ID 0; the server patches ID and flags). */
function encode(qname: string, qtype: number, r: Resolution): Buffer {
  const w = new MessageWriter();
  w.u16(0);
  w.u16(responseFlags(r.rcode, r.aa));
  w.u16(1);
  w.u16(r.answer.length);
  w.u16(r.authority.length);
  w.u16(r.additional.length);
  w.name(qname);
  w.u16(qtype);
  w.u16(1);
  for (const rec of [...r.answer, ...r.authority, ...r.additional])
    w.record(rec.name, rec.type, rec.ttl, rec.rdata);
  return w.finish();
}
