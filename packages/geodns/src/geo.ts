import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { CONTINENTS, OwncdnError } from '@owncdn/core';
import { Reader } from 'maxmind';
import type { Response } from 'maxmind';
import { COUNTRY_CONTINENT } from './continents.js';

/**
 * The geo database as a sorted range table: every network of the .mmdb,
 * mapped to a continent, adjacent networks of the same continent merged.
 * Built once per database file (about a second for the bundled one), then
 * looked up by binary search on typed arrays with no allocation (NOTES.md: a
 * maxmind lookup per query costs ~15 % of throughput).
 */

/** Continent index used for addresses the database does not know (private, unassigned). */
export const UNKNOWN_CONTINENT: number = CONTINENTS.length;

/** IPv6 networks are kept to /64: geo data is never finer, and 64-bit keys fit two uint32s. */
const V6_DEPTH = 64;

export interface GeoTable {
  /** Path of the .mmdb (the bundled one included). */
  readonly file: string;
  readonly databaseType: string;
  readonly buildEpoch: Date;
  readonly v4Starts: Uint32Array;
  readonly v4Continent: Uint8Array;
  /** High and low 32 bits of the first 64 bits of each IPv6 range start. */
  readonly v6Hi: Uint32Array;
  readonly v6Lo: Uint32Array;
  readonly v6Continent: Uint8Array;
}

const require = createRequire(import.meta.url);

/** Path of the bundled CC0 country database (`@ip-location-db/geo-whois-asn-country-mmdb`). */
export function bundledDatabasePath(): string {
  return require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');
}

const cache = new Map<string, { key: string; table: GeoTable }>();

/**
 * Loads `file` (null = the bundled database) into a range table. Tables are
 * cached per path, size and mtime, so a replaced file is read again. Throws
 * OWNCDN_DNS_GEOIP_INVALID for a missing or unreadable database.
 */
export async function loadGeoTable(file: string | null): Promise<GeoTable> {
  const path = file ?? bundledDatabasePath();
  let key: string;
  let data: Buffer;
  try {
    const info = await stat(path);
    key = `${info.size}:${info.mtimeMs}`;
    const hit = cache.get(path);
    if (hit && hit.key === key) return hit.table;
    data = await readFile(path);
  } catch (error) {
    throw new OwncdnError(
      'OWNCDN_DNS_GEOIP_INVALID',
      `geo database ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); set dns.geoip to a MaxMind-format .mmdb or null for the bundled one`,
      { cause: error },
    );
  }
  const table = buildGeoTable(data, path);
  cache.set(path, { key, table });
  return table;
}

/** Builds the range table from .mmdb bytes. Throws OWNCDN_DNS_GEOIP_INVALID when they are not a MaxMind DB. */
export function buildGeoTable(data: Buffer, file: string): GeoTable {
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(data);
  } catch (error) {
    throw new OwncdnError(
      'OWNCDN_DNS_GEOIP_INVALID',
      `${file} is not a MaxMind-format database (${error instanceof Error ? error.message : String(error)})`,
      { cause: error },
    );
  }
  const meta = reader.metadata;
  const tree = new TreeReader(data, meta.nodeCount, meta.recordSize);
  const continentOfPointer = new Map<number, number>();
  const continentOf = (record: number, ip: string): number => {
    if (record === meta.nodeCount) return UNKNOWN_CONTINENT;
    let continent = continentOfPointer.get(record);
    if (continent === undefined) {
      continent = continentOfRecord(reader.get(ip));
      continentOfPointer.set(record, continent);
    }
    return continent;
  };

  let v4Root = 0;
  if (meta.ipVersion === 6) {
    // RFC 4291 §2.5.5.1: IPv4 lives at ::/96 in an IPv6 tree.
    for (let i = 0; i < 96 && v4Root < meta.nodeCount; i++) v4Root = tree.left(v4Root);
  }
  const v4 = walkV4(tree, v4Root, meta.nodeCount, continentOf);
  const v6 =
    meta.ipVersion === 6
      ? walkV6(tree, meta.nodeCount, v4Root, continentOf)
      : {
          hi: new Uint32Array([0]),
          lo: new Uint32Array([0]),
          continent: new Uint8Array([UNKNOWN_CONTINENT]),
        };
  return {
    file,
    databaseType: meta.databaseType,
    buildEpoch: meta.buildEpoch,
    v4Starts: v4.starts,
    v4Continent: v4.continent,
    v6Hi: v6.hi,
    v6Lo: v6.lo,
    v6Continent: v6.continent,
  };
}

/** Reads search-tree records (MaxMind DB spec: 24, 28 or 32 bits per record). */
class TreeReader {
  readonly #db: Buffer;
  readonly #nodeBytes: number;
  readonly #recordSize: number;
  constructor(db: Buffer, _nodeCount: number, recordSize: number) {
    this.#db = db;
    this.#recordSize = recordSize;
    this.#nodeBytes = (recordSize * 2) / 8;
  }
  left(node: number): number {
    const db = this.#db;
    const o = node * this.#nodeBytes;
    switch (this.#recordSize) {
      case 24:
        return ((db[o] ?? 0) << 16) | ((db[o + 1] ?? 0) << 8) | (db[o + 2] ?? 0);
      case 28:
        return (
          ((((db[o + 3] ?? 0) & 0xf0) << 20) |
            ((db[o] ?? 0) << 16) |
            ((db[o + 1] ?? 0) << 8) |
            (db[o + 2] ?? 0)) >>>
          0
        );
      default:
        return db.readUInt32BE(o);
    }
  }
  right(node: number): number {
    const db = this.#db;
    const o = node * this.#nodeBytes;
    switch (this.#recordSize) {
      case 24:
        return ((db[o + 3] ?? 0) << 16) | ((db[o + 4] ?? 0) << 8) | (db[o + 5] ?? 0);
      case 28:
        return (
          ((((db[o + 3] ?? 0) & 0x0f) << 24) |
            ((db[o + 4] ?? 0) << 16) |
            ((db[o + 5] ?? 0) << 8) |
            (db[o + 6] ?? 0)) >>>
          0
        );
      default:
        return db.readUInt32BE(o + 4);
    }
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && key in value
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** A decoded data record → continent index: `continent.code`, else a country code through the table. */
export function continentOfRecord(record: unknown): number {
  const code = field(field(record, 'continent'), 'code');
  if (typeof code === 'string') {
    const index = CONTINENTS.findIndex((c) => c === code);
    if (index >= 0) return index;
  }
  for (const country of [
    field(record, 'country_code'),
    field(field(record, 'country'), 'iso_code'),
    field(field(record, 'registered_country'), 'iso_code'),
  ]) {
    if (typeof country !== 'string') continue;
    const continent = COUNTRY_CONTINENT.get(country.toUpperCase());
    if (continent) return CONTINENTS.indexOf(continent);
  }
  return UNKNOWN_CONTINENT;
}

type ContinentOf = (record: number, ip: string) => number;

/** Depth-first walk of the IPv4 subtree, left before right, so leaves come out in address order. */
function walkV4(tree: TreeReader, root: number, nodeCount: number, continentOf: ContinentOf) {
  const starts: number[] = [];
  const continents: number[] = [];
  const recStack = [root];
  const depthStack = [0];
  const addrStack = [0];
  while (recStack.length > 0) {
    const record = recStack.pop() ?? 0;
    const depth = depthStack.pop() ?? 0;
    const addr = addrStack.pop() ?? 0;
    if (record < nodeCount && depth < 32) {
      recStack.push(tree.right(record), tree.left(record));
      depthStack.push(depth + 1, depth + 1);
      addrStack.push((addr | (1 << (31 - depth))) >>> 0, addr);
      continue;
    }
    let leaf = record;
    while (leaf < nodeCount) leaf = tree.left(leaf);
    const continent = continentOf(leaf, formatV4(addr));
    if (continents[continents.length - 1] !== continent) {
      starts.push(addr);
      continents.push(continent);
    }
  }
  return { starts: Uint32Array.from(starts), continent: Uint8Array.from(continents) };
}

/** The same for IPv6, to /64; the IPv4 subtree and its aliases (::ffff:0:0/96, 2002::/16) count as unknown. */
function walkV6(tree: TreeReader, nodeCount: number, v4Root: number, continentOf: ContinentOf) {
  const his: number[] = [];
  const los: number[] = [];
  const continents: number[] = [];
  const recStack = [0];
  const depthStack = [0];
  const hiStack = [0];
  const loStack = [0];
  while (recStack.length > 0) {
    const record = recStack.pop() ?? 0;
    const depth = depthStack.pop() ?? 0;
    const hi = hiStack.pop() ?? 0;
    const lo = loStack.pop() ?? 0;
    if (record < nodeCount && record !== v4Root && depth < V6_DEPTH) {
      recStack.push(tree.right(record), tree.left(record));
      depthStack.push(depth + 1, depth + 1);
      if (depth < 32) {
        hiStack.push((hi | (1 << (31 - depth))) >>> 0, hi);
        loStack.push(lo, lo);
      } else {
        hiStack.push(hi, hi);
        loStack.push((lo | (1 << (63 - depth))) >>> 0, lo);
      }
      continue;
    }
    let continent: number = UNKNOWN_CONTINENT;
    if (record !== v4Root) {
      let leaf = record;
      while (leaf < nodeCount && leaf !== v4Root) leaf = tree.left(leaf);
      if (leaf !== v4Root) continent = continentOf(leaf, formatV6(hi, lo));
    }
    if (continents[continents.length - 1] !== continent) {
      his.push(hi);
      los.push(lo);
      continents.push(continent);
    }
  }
  return {
    hi: Uint32Array.from(his),
    lo: Uint32Array.from(los),
    continent: Uint8Array.from(continents),
  };
}

function formatV4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

function formatV6(hi: number, lo: number): string {
  const h = (n: number) => n.toString(16);
  return `${h(hi >>> 16)}:${h(hi & 0xffff)}:${h(lo >>> 16)}:${h(lo & 0xffff)}::`;
}

/**
 * A geo table seen through one config: continents that the config answers
 * the same way (same list of nodes) form one class, and the scope of a
 * lookup is the widest aligned block inside one run of a class (gdnsd merges
 * the same way, NOTES.md: 8.8.8.0/24 gets /12).
 */
export interface GeoIndex {
  readonly table: GeoTable;
  /** Continent index (0–7) → answer class. */
  readonly classOf: Uint8Array;
  /** For each v4 range: index of the first and last range of its class run. */
  readonly v4RunFirst: Uint32Array;
  readonly v4RunLast: Uint32Array;
  readonly v6RunFirst: Uint32Array;
  readonly v6RunLast: Uint32Array;
}

/** The result of a lookup, written into a reused object. */
export interface GeoResult {
  continent: number;
  answerClass: number;
  /** ECS scope prefix length: how much of the address this answer depends on. */
  scope: number;
}

export function createGeoResult(): GeoResult {
  return { continent: UNKNOWN_CONTINENT, answerClass: 0, scope: 0 };
}

/** Builds the class runs of `table` for `classOf` (continent index → class). */
export function createGeoIndex(table: GeoTable, classOf: Uint8Array): GeoIndex {
  const runs = (continents: Uint8Array) => {
    const first = new Uint32Array(continents.length);
    const last = new Uint32Array(continents.length);
    let start = 0;
    for (let i = 1; i <= continents.length; i++) {
      if (
        i === continents.length ||
        classOf[continents[i] ?? 0] !== classOf[continents[start] ?? 0]
      ) {
        first.fill(start, start, i);
        last.fill(i - 1, start, i);
        start = i;
      }
    }
    return { first, last };
  };
  const v4 = runs(table.v4Continent);
  const v6 = runs(table.v6Continent);
  return {
    table,
    classOf,
    v4RunFirst: v4.first,
    v4RunLast: v4.last,
    v6RunFirst: v6.first,
    v6RunLast: v6.last,
  };
}

/** Looks up an IPv4 address (as uint32). */
export function lookupV4(index: GeoIndex, addr: number, out: GeoResult): void {
  const starts = index.table.v4Starts;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((starts[mid] ?? 0) <= addr) lo = mid;
    else hi = mid - 1;
  }
  const continent = index.table.v4Continent[lo] ?? UNKNOWN_CONTINENT;
  out.continent = continent;
  out.answerClass = index.classOf[continent] ?? 0;
  const first = index.v4RunFirst[lo] ?? 0;
  const last = index.v4RunLast[lo] ?? 0;
  const runStart = starts[first] ?? 0;
  const runEnd = last + 1 < starts.length ? ((starts[last + 1] ?? 0) - 1) >>> 0 : 0xffffffff;
  for (let p = 0; p <= 32; p++) {
    const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
    const blockStart = (addr & mask) >>> 0;
    const blockEnd = (blockStart | ~mask) >>> 0;
    if (blockStart >= runStart && blockEnd <= runEnd) {
      out.scope = p;
      return;
    }
  }
  out.scope = 32;
}

/** (aHi,aLo) ≤ (bHi,bLo) as unsigned 64-bit numbers. */
function le64(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
  return aHi < bHi || (aHi === bHi && aLo <= bLo);
}

/** Looks up an IPv6 address by its first 64 bits (two uint32s). */
export function lookupV6(index: GeoIndex, hi: number, lo: number, out: GeoResult): void {
  const his = index.table.v6Hi;
  const los = index.table.v6Lo;
  let a = 0;
  let b = his.length - 1;
  while (a < b) {
    const mid = (a + b + 1) >>> 1;
    if (le64(his[mid] ?? 0, los[mid] ?? 0, hi, lo)) a = mid;
    else b = mid - 1;
  }
  const continent = index.table.v6Continent[a] ?? UNKNOWN_CONTINENT;
  out.continent = continent;
  out.answerClass = index.classOf[continent] ?? 0;
  const first = index.v6RunFirst[a] ?? 0;
  const last = index.v6RunLast[a] ?? 0;
  const startHi = his[first] ?? 0;
  const startLo = los[first] ?? 0;
  let endHi = 0xffffffff;
  let endLo = 0xffffffff;
  if (last + 1 < his.length) {
    // The run ends one before the next run's start (64-bit decrement).
    const nextHi = his[last + 1] ?? 0;
    const nextLo = los[last + 1] ?? 0;
    endLo = (nextLo - 1) >>> 0;
    endHi = nextLo === 0 ? (nextHi - 1) >>> 0 : nextHi;
  }
  for (let p = 0; p <= V6_DEPTH; p++) {
    let sHi: number, sLo: number, eHi: number, eLo: number;
    if (p <= 32) {
      const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
      sHi = (hi & mask) >>> 0;
      eHi = (sHi | ~mask) >>> 0;
      sLo = 0;
      eLo = 0xffffffff;
    } else {
      const mask = (0xffffffff << (64 - p)) >>> 0;
      sHi = hi;
      eHi = hi;
      sLo = (lo & mask) >>> 0;
      eLo = (sLo | ~mask) >>> 0;
    }
    if (le64(startHi, startLo, sHi, sLo) && le64(eHi, eLo, endHi, endLo)) {
      out.scope = p;
      return;
    }
  }
  out.scope = V6_DEPTH;
}
