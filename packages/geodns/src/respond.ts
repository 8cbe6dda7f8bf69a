import type { Snapshot, WildcardEntry } from './answers.js';
import { createGeoResult, lookupV4, lookupV6 } from './geo.js';
import type { GeoIndex } from './geo.js';
import type { Metrics } from './metrics.js';
import { RRL } from './rrl.js';
import type { RateLimiter } from './rrl.js';
import { isGlobal, parseAddress } from './client.js';
import type { Client } from './client.js';
import { CLASS_IN, PARSE, RCODE, createQuery, parseQuery } from './wire.js';
import { keyToName } from './writer.js';
import type { Query } from './wire.js';

/**
 * The per-query path: parse the header and question, look the name up,
 * copy the precomputed response, patch ID, flags, question case and the
 * OPT/ECS record. Nothing here allocates but the reply buffer and the name
 * key (STYLE.md §7).
 */

/** RFC 1035 §4.2.1: without EDNS a UDP reply holds at most 512 octets. */
const CLASSIC_UDP_BYTES = 512;
/** RFC 1035 §4.2.2: a TCP message length is 16 bits. */
const TCP_MAX_BYTES = 65_535;
/** OPT RR without options: root name, TYPE, CLASS, TTL, RDLENGTH. */
const OPT_FIXED_BYTES = 11;

/** What answers need that changes at runtime; swapped whole. */
export interface ResponderState {
  readonly snapshot: Snapshot;
  readonly geo: GeoIndex;
  readonly maxUdpPayloadBytes: number;
  readonly rrl: RateLimiter | null;
}

export class Responder {
  state: ResponderState;
  readonly metrics: Metrics;
  readonly #q: Query = createQuery();
  readonly #geo = createGeoResult();
  readonly #client: Client = { family: 4, hi: 0, lo: 0 };
  #lastAddress = '';
  readonly #lastClient: Client = { family: 4, hi: 0, lo: 0 };

  constructor(state: ResponderState, metrics: Metrics) {
    this.state = state;
    this.metrics = metrics;
  }

  /**
   * Answers one packet from `address` (as the socket reports it). Returns the
   * reply, or null to send nothing. `udp` decides size limits and RRL.
   */
  answer(buf: Buffer, length: number, address: string, udp: boolean): Buffer | null {
    const q = this.#q;
    const status = parseQuery(buf, length, q);
    if (status !== PARSE.OK) {
      if (status === PARSE.DROP) {
        this.metrics.countMalformed(q.reason);
        return null;
      }
      if (status === PARSE.NOTIMP) return this.#error(buf, q, RCODE.NOTIMP, false);
      if (status === PARSE.BADVERS) return this.#error(buf, q, RCODE.BADVERS, true);
      this.metrics.countMalformed(q.reason);
      return this.#error(buf, q, RCODE.FORMERR, false);
    }
    if (q.qclass !== CLASS_IN) return this.#error(buf, q, RCODE.REFUSED, true);
    const { snapshot } = this.state;
    const name = snapshot.names.get(q.key);
    if (name === undefined) return this.#miss(buf, q, address, udp);
    const entry = name.types.get(q.qtype) ?? name.other;
    let response = entry.responses[0];
    let scope = 0;
    let cls = 0;
    if (entry.geo) {
      this.#locate(q, address);
      cls = this.#geo.answerClass;
      response = entry.responses[cls] ?? response;
      scope = this.#geo.scope;
      this.metrics.continents[this.#geo.continent]! += 1;
    }
    if (response === undefined) return null;
    const action = this.#rateCheck(udp, address, entry.id * 8 + cls);
    if (action !== RRL.SEND) return this.#limited(buf, q, action, entry.rcode);
    this.metrics.countQuery(q.qtype, entry.rcode);
    return this.#finish(buf, q, response, scope, udp);
  }

  /** A name not in the snapshot: REFUSED outside the zone, a referral below a cut, else NXDOMAIN. */
  #miss(buf: Buffer, q: Query, address: string, udp: boolean): Buffer | null {
    const { snapshot } = this.state;
    const zoneStart =
      q.labelCount >= snapshot.zoneLabels
        ? (q.labelStarts[q.labelCount - snapshot.zoneLabels] ?? 0)
        : -1;
    if (
      zoneStart < 0 ||
      q.key.length - zoneStart !== snapshot.zoneKey.length ||
      !q.key.endsWith(snapshot.zoneKey)
    ) {
      // Not ours: RFC 1035 §4.1.1 REFUSED (an authoritative-only server gives no referral to the root).
      return this.#error(buf, q, RCODE.REFUSED, true);
    }
    if (snapshot.cuts.size > 0) {
      for (let i = 1; i < q.labelCount - snapshot.zoneLabels; i++) {
        const suffix = q.key.slice(q.labelStarts[i] ?? 0);
        if (snapshot.cuts.has(suffix)) {
          const referral = snapshot.referral(keyToName(q.key), keyToName(suffix));
          this.metrics.countQuery(q.qtype, RCODE.NOERROR);
          return this.#finish(buf, q, referral, 0, udp);
        }
      }
    }
    if (snapshot.wildcards.size > 0) {
      // RFC 4592 §4.1: only the closest encloser's wildcard can match.
      for (let i = 1; i <= q.labelCount - snapshot.zoneLabels; i++) {
        const encloser = q.key.slice(q.labelStarts[i] ?? 0);
        if (!snapshot.names.has(encloser)) continue;
        const wildcard = snapshot.wildcards.get(encloser);
        if (wildcard) return this.#wildcard(buf, q, wildcard, address, udp);
        break;
      }
    }
    const action = this.#rateCheck(udp, address, snapshot.nxdomainId * 8);
    if (action !== RRL.SEND) return this.#limited(buf, q, action, RCODE.NXDOMAIN);
    this.metrics.countQuery(q.qtype, RCODE.NXDOMAIN);
    const soa = snapshot.nxdomainSoa;
    const questionBytes = q.questionEnd - 12;
    const out = this.#allocate(
      buf,
      q,
      12 + questionBytes + soa.length,
      udp,
      0x84,
      RCODE.NXDOMAIN,
      0,
      1,
    );
    if (out === null) return this.#truncated(buf, q, RCODE.NXDOMAIN, true);
    soa.copy(out, 12 + questionBytes);
    // The SOA owner is the zone apex, which is the tail of the question name: point at it.
    const pointer = 12 + zoneStart;
    out[12 + questionBytes] = 0xc0 | (pointer >> 8);
    out[12 + questionBytes + 1] = pointer & 0xff;
    this.#writeOpt(buf, q, out, 12 + questionBytes + soa.length, 0, 0);
    return out;
  }

  /** Synthesises a wildcard answer: its header, the query's question, its position-independent tail. */
  #wildcard(
    buf: Buffer,
    q: Query,
    wildcard: WildcardEntry,
    address: string,
    udp: boolean,
  ): Buffer | null {
    const entry = wildcard.types.get(q.qtype) ?? wildcard.other;
    let cls = 0;
    let scope = 0;
    if (entry.geo) {
      this.#locate(q, address);
      cls = this.#geo.answerClass;
      scope = this.#geo.scope;
      this.metrics.continents[this.#geo.continent]! += 1;
    }
    const action = this.#rateCheck(udp, address, entry.id * 8 + cls);
    if (action !== RRL.SEND) return this.#limited(buf, q, action, entry.rcode);
    this.metrics.countQuery(q.qtype, entry.rcode);
    const tail = entry.tails[cls] ?? entry.tails[0];
    if (tail === undefined) return null;
    const h = entry.header;
    const rcode = (h[3] ?? 0) & 0x0f;
    const questionBytes = q.questionEnd - 12;
    const out = this.#allocate(
      buf,
      q,
      12 + questionBytes + tail.length,
      udp,
      h[2] ?? 0x84,
      rcode,
      h.readUInt16BE(6),
      h.readUInt16BE(8),
    );
    if (out === null) return this.#truncated(buf, q, rcode, ((h[2] ?? 0) & 0x04) !== 0);
    // #allocate counted only the OPT in ARCOUNT: add the tail's additional records.
    out.writeUInt16BE(out.readUInt16BE(10) + h.readUInt16BE(10), 10);
    tail.copy(out, 12 + questionBytes);
    this.#writeOpt(buf, q, out, 12 + questionBytes + tail.length, 0, scope);
    return out;
  }

  /** Copies a precomputed response and patches it for this query. */
  #finish(buf: Buffer, q: Query, response: Buffer, scope: number, udp: boolean): Buffer {
    const optBytes = this.#optBytes(q);
    const limit = this.#limit(q, udp);
    if (response.length + optBytes > limit) {
      return this.#truncated(buf, q, (response[3] ?? 0) & 0x0f, ((response[2] ?? 0) & 0x04) !== 0);
    }
    const out = Buffer.allocUnsafe(response.length + optBytes);
    response.copy(out, 0);
    // Echo the question as asked (its case included, RFC 4343 §4.1); same length as ours by construction.
    buf.copy(out, 12, 12, q.questionEnd);
    out[0] = q.id >> 8;
    out[1] = q.id & 0xff;
    // RD is copied (RFC 1035 §4.1.1); CD too (RFC 4035 §3.1.6).
    out[2] = (out[2] ?? 0) | ((q.flags >> 8) & 0x01);
    out[3] = (out[3] ?? 0) | (q.flags & 0x10);
    if (optBytes > 0) {
      const arcount = (((out[10] ?? 0) << 8) | (out[11] ?? 0)) + 1;
      out[10] = arcount >> 8;
      out[11] = arcount & 0xff;
      this.#writeOpt(buf, q, out, response.length, 0, scope);
    }
    return out;
  }

  /** Size of the OPT we send back: none without EDNS, the ECS option echoed when there was one. */
  #optBytes(q: Query): number {
    if (!q.edns) return 0;
    return OPT_FIXED_BYTES + (q.ecsOffset >= 0 ? q.ecsLength : 0);
  }

  #limit(q: Query, udp: boolean): number {
    if (!udp) return TCP_MAX_BYTES;
    if (!q.edns) return CLASSIC_UDP_BYTES;
    // RFC 6891 §6.2.5: values below 512 are treated as 512; ours caps the rest.
    return Math.min(Math.max(q.udpSize, CLASSIC_UDP_BYTES), this.state.maxUdpPayloadBytes);
  }

  /**
   * Writes the OPT record at `at`: our payload size, version 0, DO copied
   * (RFC 3225 §3), and the ECS option echoed with our scope (RFC 7871 §7.2.1).
   */
  #writeOpt(
    buf: Buffer,
    q: Query,
    out: Buffer,
    at: number,
    extendedRcode: number,
    scope: number,
  ): void {
    if (!q.edns) return;
    const size = this.state.maxUdpPayloadBytes;
    out[at] = 0;
    out[at + 1] = 0;
    out[at + 2] = 41;
    out[at + 3] = size >> 8;
    out[at + 4] = size & 0xff;
    out[at + 5] = extendedRcode;
    out[at + 6] = 0;
    out[at + 7] = q.dnssecOk ? 0x80 : 0;
    out[at + 8] = 0;
    const ecs = q.ecsOffset >= 0 ? q.ecsLength : 0;
    out[at + 9] = ecs >> 8;
    out[at + 10] = ecs & 0xff;
    if (ecs > 0) {
      buf.copy(out, at + 11, q.ecsOffset, q.ecsOffset + ecs);
      // Option code (2), length (2), family (2), source (1), then SCOPE PREFIX-LENGTH.
      out[at + 11 + 7] = scope;
    }
  }

  /**
   * Allocates a reply of `bodyBytes` (header + question + records) plus OPT,
   * with the header filled in; null when it would not fit.
   */
  #allocate(
    buf: Buffer,
    q: Query,
    bodyBytes: number,
    udp: boolean,
    flagsHigh: number,
    rcode: number,
    ancount: number,
    nscount: number,
  ): Buffer | null {
    const optBytes = this.#optBytes(q);
    if (bodyBytes + optBytes > this.#limit(q, udp)) return null;
    const out = Buffer.allocUnsafe(bodyBytes + optBytes);
    out[0] = q.id >> 8;
    out[1] = q.id & 0xff;
    out[2] = flagsHigh | (q.opcode << 3) | ((q.flags >> 8) & 0x01);
    out[3] = (rcode & 0x0f) | (q.flags & 0x10);
    const qdcount = q.questionEnd > 0 ? 1 : 0;
    out[4] = 0;
    out[5] = qdcount;
    out[6] = ancount >> 8;
    out[7] = ancount & 0xff;
    out[8] = nscount >> 8;
    out[9] = nscount & 0xff;
    out[10] = 0;
    out[11] = optBytes > 0 ? 1 : 0;
    if (q.questionEnd > 0) buf.copy(out, 12, 12, q.questionEnd);
    return out;
  }

  /** An empty reply with TC set: the answer did not fit (RFC 2181 §9), or RRL slipped it. */
  #truncated(buf: Buffer, q: Query, rcode: number, authoritative: boolean): Buffer {
    this.metrics.truncated++;
    const body = 12 + (q.questionEnd > 0 ? q.questionEnd - 12 : 0);
    const out = this.#allocate(
      buf,
      q,
      body,
      false,
      0x80 | 0x02 | (authoritative ? 0x04 : 0),
      rcode,
      0,
      0,
    );
    if (out === null) throw new Error('unreachable: a question always fits in 65535 bytes');
    this.#writeOpt(buf, q, out, body, 0, 0);
    return out;
  }

  /** A reply with no records: FORMERR, NOTIMP, REFUSED, BADVERS. The question is echoed when it parsed. */
  #error(buf: Buffer, q: Query, rcode: number, withOpt: boolean): Buffer {
    this.metrics.countQuery(q.questionEnd > 0 ? q.qtype : 0, rcode);
    if (!withOpt) q.edns = false;
    const body = 12 + (q.questionEnd > 0 ? q.questionEnd - 12 : 0);
    const out = this.#allocate(buf, q, body, false, 0x80, rcode, 0, 0);
    if (out === null) throw new Error('unreachable: a question always fits in 65535 bytes');
    // RFC 6891 §6.1.3: BADVERS is 16, carried as 1 in the OPT's extended RCODE with 0 in the header.
    this.#writeOpt(buf, q, out, body, rcode >> 4, 0);
    return out;
  }

  /** The RRL verdict for this answer to this client (as Knot's and BIND's RRL: TCP answers are never limited). */
  #rateCheck(udp: boolean, address: string, answerKey: number): number {
    const rrl = this.state.rrl;
    if (!udp || !rrl) return RRL.SEND;
    this.#clientOf(address);
    return rrl.check(this.#client.family, this.#client.hi, this.#client.lo, answerKey);
  }

  #limited(buf: Buffer, q: Query, action: number, rcode: number): Buffer | null {
    if (action === RRL.DROP) {
      this.metrics.rrlDropped++;
      return null;
    }
    this.metrics.rrlSlipped++;
    return this.#truncated(buf, q, rcode, true);
  }

  /** Finds the client's answer class: the ECS address when present and global, else the source. */
  #locate(q: Query, address: string): void {
    const geo = this.#geo;
    if (q.ecsOffset >= 0 && q.ecsSourcePrefix > 0 && isGlobal(q.ecsFamily, q.ecsAddress)) {
      const a = q.ecsAddress;
      const hi =
        (((a[0] ?? 0) << 24) | ((a[1] ?? 0) << 16) | ((a[2] ?? 0) << 8) | (a[3] ?? 0)) >>> 0;
      if (q.ecsFamily === 1) lookupV4(this.state.geo, hi, geo);
      else
        lookupV6(
          this.state.geo,
          hi,
          (((a[4] ?? 0) << 24) | ((a[5] ?? 0) << 16) | ((a[6] ?? 0) << 8) | (a[7] ?? 0)) >>> 0,
          geo,
        );
      return;
    }
    this.#clientOf(address);
    const c = this.#client;
    if (c.family === 4) lookupV4(this.state.geo, c.hi, geo);
    else lookupV6(this.state.geo, c.hi, c.lo, geo);
    // RFC 7871 §7.2.1: the answer did not depend on the ECS address, so it is valid for every subnet.
    geo.scope = 0;
  }

  /** Parses the socket's address string into #client (cached: one resolver sends most queries). */
  #clientOf(address: string): void {
    const c = this.#client;
    if (address === this.#lastAddress) {
      c.family = this.#lastClient.family;
      c.hi = this.#lastClient.hi;
      c.lo = this.#lastClient.lo;
      return;
    }
    parseAddress(address, c);
    this.#lastAddress = address;
    this.#lastClient.family = c.family;
    this.#lastClient.hi = c.hi;
    this.#lastClient.lo = c.lo;
  }
}
