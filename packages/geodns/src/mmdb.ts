import { CONTINENTS, OwncdnError } from '@owncdn/core';
import { Reader } from 'maxmind';
import type { Response } from 'maxmind';
import { COUNTRY_CONTINENT } from './continents.js';

/**
 * Reading a MaxMind-format database into a range table: a depth-first walk
 * of its search tree (leaves come out in address order), each network's
 * record mapped to a continent once per distinct record, adjacent networks
 * of one continent merged.
 */

/** Continent index used for addresses the database does not know (private, unassigned). */
export const UNKNOWN_CONTINENT: number = CONTINENTS.length;

/** IPv6 networks are kept to /64: geo data is never finer, and 64-bit keys fit two uint32s. */
export const V6_DEPTH = 64;

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
