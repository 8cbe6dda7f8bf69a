import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { OwncdnError } from '@owncdn/core';
import { buildGeoTable, UNKNOWN_CONTINENT, V6_DEPTH } from './mmdb.js';
import type { GeoTable } from './mmdb.js';

export { buildGeoTable, continentOfRecord, UNKNOWN_CONTINENT } from './mmdb.js';
export type { GeoTable } from './mmdb.js';

/**
 * The geo database as a sorted range table: every network of the .mmdb,
 * mapped to a continent, adjacent networks of the same continent merged.
 * Built once per database file (about a second for the bundled one), then
 * looked up by binary search on typed arrays with no allocation (NOTES.md: a
 * maxmind lookup per query costs ~15 % of throughput).
 */

/**
 * Path of the bundled CC0 country database (`@ip-location-db/geo-whois-asn-country-mmdb`),
 * a dependency of this package: resolved from the package itself, so that the
 * bundled `owncdn` program (packages/cli/dist/bundle/) finds it too.
 */
export function bundledDatabasePath(): string {
  const self = createRequire(import.meta.url).resolve('@owncdn/geodns/package.json');
  return createRequire(self).resolve(
    '@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb',
  );
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
