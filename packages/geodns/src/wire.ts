/**
 * The DNS wire format, both ways. Queries are parsed by hand into one reused
 * `Query` (no allocation but the lower-cased name key): this is the hot path.
 * Responses are built ahead of time with `MessageWriter` (writer.ts) and only
 * copied and patched per query (respond.ts).
 */

/** RR types geodns knows by number (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891, RFC 8659). */
export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
  CAA: 257,
} as const;

export const CLASS_IN = 1;

/** Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS, which needs the OPT's extended bits). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** EDNS option code of Client Subnet (RFC 7871 §6). */
export const OPTION_ECS = 8;

/** What `parseQuery` decided. */
export const PARSE = {
  /** A well-formed standard query: answer it. */
  OK: 0,
  /** Not worth a reply (too short for a header, or a response): count and drop. */
  DROP: 1,
  FORMERR: 2,
  /** A well-formed header with an opcode other than QUERY (RFC 1035 §4.1.1). */
  NOTIMP: 3,
  /** EDNS version other than 0 (RFC 6891 §6.1.3). */
  BADVERS: 4,
} as const;
export type ParseResult = (typeof PARSE)[keyof typeof PARSE];

/** Why a packet was malformed (the `reason` label of the malformed-packets counter). */
export const MALFORMED_REASONS = [
  'short-header',
  'response',
  'qdcount',
  'bad-name',
  'truncated',
  'opt-misplaced',
  'opt-duplicate',
  'opt-bad-owner',
  'ecs-invalid',
] as const;
export type MalformedReason = (typeof MALFORMED_REASONS)[number];

/** RFC 1035 §2.3.4: 255 octets for a whole name on the wire, 63 per label. */
const MAX_NAME_OCTETS = 255;
const MAX_LABEL_OCTETS = 63;
/** A 255-octet name has at most 127 one-character labels. */
const MAX_LABELS = 128;

/** One parsed query. A single instance is reused per socket: read it before parsing the next packet. */
export interface Query {
  id: number;
  /** Header bytes 2–3 as sent. */
  flags: number;
  opcode: number;
  /** Offset just past the question (QTYPE, QCLASS); 0 when no usable question was parsed. */
  questionEnd: number;
  /** Offset just past the QNAME. */
  nameEnd: number;
  /** QNAME as wire bytes (length octets included, root octet excluded), lower-cased, latin1. */
  key: string;
  /** Start of each label, relative to offset 12 (the QNAME), for zone-cut and suffix checks. */
  readonly labelStarts: Uint8Array;
  labelCount: number;
  qtype: number;
  qclass: number;
  /** A valid OPT record was present (RFC 6891). */
  edns: boolean;
  ednsVersion: number;
  /** Requestor's UDP payload size as sent (clamped by the responder). */
  udpSize: number;
  dnssecOk: boolean;
  /** Offset of the ECS option (its code) in the packet, or -1. */
  ecsOffset: number;
  /** Whole ECS option length on the wire (4 + option length). */
  ecsLength: number;
  ecsFamily: number;
  ecsSourcePrefix: number;
  /** The ECS address, zero-padded to 4 or 16 bytes. */
  readonly ecsAddress: Uint8Array;
  reason: MalformedReason | null;
}

/** A fresh reusable Query. */
export function createQuery(): Query {
  return {
    id: 0,
    flags: 0,
    opcode: 0,
    questionEnd: 0,
    nameEnd: 0,
    key: '',
    labelStarts: new Uint8Array(MAX_LABELS),
    labelCount: 0,
    qtype: 0,
    qclass: 0,
    edns: false,
    ednsVersion: 0,
    udpSize: 512,
    dnssecOk: false,
    ecsOffset: -1,
    ecsLength: 0,
    ecsFamily: 0,
    ecsSourcePrefix: 0,
    ecsAddress: new Uint8Array(16),
    reason: null,
  };
}

function malformed(
  q: Query,
  reason: MalformedReason,
  result: ParseResult = PARSE.FORMERR,
): ParseResult {
  q.reason = reason;
  return result;
}

/**
 * Parses a query in place into `q`. Never throws: every bound is checked, so
 * a hostile packet yields FORMERR or DROP with `q.reason` set.
 */
export function parseQuery(buf: Buffer, length: number, q: Query): ParseResult {
  q.reason = null;
  q.questionEnd = 0;
  q.edns = false;
  q.ednsVersion = 0;
  q.udpSize = 512;
  q.dnssecOk = false;
  q.ecsOffset = -1;
  q.labelCount = 0;
  q.key = '';
  // RFC 1035 §4.1.1: a 12-byte header; without it there is not even an ID to answer.
  if (length < 12) return malformed(q, 'short-header', PARSE.DROP);
  q.id = ((buf[0] ?? 0) << 8) | (buf[1] ?? 0);
  const b2 = buf[2] ?? 0;
  q.flags = (b2 << 8) | (buf[3] ?? 0);
  // Never answer a response: that is how reflection loops between servers start.
  if (b2 & 0x80) return malformed(q, 'response', PARSE.DROP);
  q.opcode = (b2 >> 3) & 0x0f;
  if (q.opcode !== 0) return PARSE.NOTIMP;
  const qdcount = ((buf[4] ?? 0) << 8) | (buf[5] ?? 0);
  const ancount = ((buf[6] ?? 0) << 8) | (buf[7] ?? 0);
  const nscount = ((buf[8] ?? 0) << 8) | (buf[9] ?? 0);
  const arcount = ((buf[10] ?? 0) << 8) | (buf[11] ?? 0);
  if (qdcount !== 1) return malformed(q, 'qdcount');

  // QNAME: labels only. A compression pointer cannot point anywhere useful
  // from the first name of a message (only the header precedes it), so any
  // pointer here is malformed, which also rules out pointer loops.
  let offset = 12;
  let count = 0;
  for (;;) {
    if (offset >= length) return malformed(q, 'truncated');
    const len = buf[offset] ?? 0;
    if (len === 0) {
      offset += 1;
      break;
    }
    if (len > MAX_LABEL_OCTETS) return malformed(q, 'bad-name');
    if (count >= MAX_LABELS) return malformed(q, 'bad-name');
    q.labelStarts[count++] = offset - 12;
    offset += 1 + len;
    if (offset - 12 + 1 > MAX_NAME_OCTETS) return malformed(q, 'bad-name');
  }
  q.labelCount = count;
  q.nameEnd = offset;
  if (offset + 4 > length) return malformed(q, 'truncated');
  q.qtype = ((buf[offset] ?? 0) << 8) | (buf[offset + 1] ?? 0);
  q.qclass = ((buf[offset + 2] ?? 0) << 8) | (buf[offset + 3] ?? 0);
  offset += 4;
  q.questionEnd = offset;
  q.key = latin1Lower(buf, 12, q.nameEnd - 1);

  // Answer and authority sections of a query are unusual but legal; an OPT there is not (RFC 6891 §6.1.1).
  for (let i = 0; i < ancount + nscount; i++) {
    const next = skipRecord(buf, length, offset);
    if (next < 0) return malformed(q, 'truncated');
    if (recordType(buf, next) === TYPE.OPT) return malformed(q, 'opt-misplaced');
    offset = afterRecord(buf, next);
  }
  let sawOpt = false;
  for (let i = 0; i < arcount; i++) {
    const next = skipRecord(buf, length, offset);
    if (next < 0) return malformed(q, 'truncated');
    if (recordType(buf, next) === TYPE.OPT) {
      // RFC 6891 §6.1.1: at most one OPT, owned by the root.
      if (sawOpt) return malformed(q, 'opt-duplicate');
      sawOpt = true;
      if (next !== offset + 1 || buf[offset] !== 0) return malformed(q, 'opt-bad-owner');
      const result = parseOpt(buf, next, q);
      if (result !== PARSE.OK) return result;
    }
    offset = afterRecord(buf, next);
  }
  return PARSE.OK;
}

/** Reads an OPT record whose fixed part starts at `at` (its TYPE field). */
function parseOpt(buf: Uint8Array, at: number, q: Query): ParseResult {
  q.udpSize = ((buf[at + 2] ?? 0) << 8) | (buf[at + 3] ?? 0);
  q.ednsVersion = buf[at + 5] ?? 0;
  q.dnssecOk = ((buf[at + 6] ?? 0) & 0x80) !== 0;
  const rdlength = ((buf[at + 8] ?? 0) << 8) | (buf[at + 9] ?? 0);
  const end = at + 10 + rdlength;
  let offset = at + 10;
  while (offset < end) {
    if (offset + 4 > end) return malformed(q, 'truncated');
    const code = ((buf[offset] ?? 0) << 8) | (buf[offset + 1] ?? 0);
    const len = ((buf[offset + 2] ?? 0) << 8) | (buf[offset + 3] ?? 0);
    if (offset + 4 + len > end) return malformed(q, 'truncated');
    if (code === OPTION_ECS) {
      if (q.ecsOffset >= 0) return malformed(q, 'ecs-invalid');
      if (!parseEcs(buf, offset + 4, len, q)) return malformed(q, 'ecs-invalid');
      q.ecsOffset = offset;
      q.ecsLength = 4 + len;
    }
    offset += 4 + len;
  }
  // RFC 6891 §6.1.3: a version we do not implement gets BADVERS, after the OPT itself parsed.
  if (q.ednsVersion !== 0) {
    q.edns = true;
    return PARSE.BADVERS;
  }
  q.edns = true;
  return PARSE.OK;
}

/**
 * RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS
 * truncated to the source prefix. A prefix longer than the family allows, an
 * address of the wrong length, or bits set past the prefix are FORMERR.
 */
function parseEcs(buf: Uint8Array, at: number, len: number, q: Query): boolean {
  if (len < 4) return false;
  const family = ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
  const source = buf[at + 2] ?? 0;
  const maxBits = family === 1 ? 32 : family === 2 ? 128 : 0;
  if (maxBits === 0 || source > maxBits) return false;
  const addressBytes = len - 4;
  if (addressBytes !== (source + 7) >> 3) return false;
  const address = q.ecsAddress;
  address.fill(0);
  for (let i = 0; i < addressBytes; i++) address[i] = buf[at + 4 + i] ?? 0;
  const spare = addressBytes * 8 - source;
  if (spare > 0 && ((address[addressBytes - 1] ?? 0) & ((1 << spare) - 1)) !== 0) return false;
  q.ecsFamily = family;
  q.ecsSourcePrefix = source;
  return true;
}

/**
 * Skips the owner name of a record at `offset` and checks the fixed part and
 * RDATA are inside the packet. Returns the offset of the TYPE field, or -1.
 * Pointers end a name, so skipping never follows them (no loops possible).
 */
function skipRecord(buf: Uint8Array, length: number, start: number): number {
  let offset = start;
  for (;;) {
    if (offset >= length) return -1;
    const len = buf[offset] ?? 0;
    if (len === 0) {
      offset += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      offset += 2;
      break;
    }
    if (len > MAX_LABEL_OCTETS) return -1;
    offset += 1 + len;
    if (offset - start > MAX_NAME_OCTETS) return -1;
  }
  if (offset + 10 > length) return -1;
  const rdlength = ((buf[offset + 8] ?? 0) << 8) | (buf[offset + 9] ?? 0);
  if (offset + 10 + rdlength > length) return -1;
  return offset;
}

function recordType(buf: Uint8Array, typeOffset: number): number {
  return ((buf[typeOffset] ?? 0) << 8) | (buf[typeOffset + 1] ?? 0);
}

function afterRecord(buf: Uint8Array, typeOffset: number): number {
  return typeOffset + 10 + (((buf[typeOffset + 8] ?? 0) << 8) | (buf[typeOffset + 9] ?? 0));
}

/**
 * The name's wire bytes as a lower-cased latin1 string. `toLowerCase` also
 * folds latin1 letters above 0x7f, which RFC 4343 says are not case
 * variants; harmless here, since such a name can match no key (keys are
 * ASCII) and folding never produces ASCII. A native slice plus one
 * `toLowerCase` avoids building the string a byte at a time.
 */
function latin1Lower(buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, end).toLowerCase();
}
