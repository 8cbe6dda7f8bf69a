import { CONTINENTS } from '@owncdn/core';
import { describe, expect, test } from 'vitest';
import {
  continentOfRecord,
  createGeoIndex,
  createGeoResult,
  loadGeoTable,
  lookupV4,
  lookupV6,
  UNKNOWN_CONTINENT,
} from './geo.js';

const ip4 = (text: string) => text.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0;
const continent = (index: number) => CONTINENTS[index] ?? 'unknown';

describe('the bundled database as a range table', async () => {
  const table = await loadGeoTable(null);
  // One class per continent: scopes are continent runs.
  const byContinent = createGeoIndex(table, Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]));

  test('is a country database with networks for every continent', () => {
    expect(table.databaseType).toMatch(/country/i);
    expect(table.v4Starts[0]).toBe(0);
    expect(new Set(table.v4Continent).size).toBe(CONTINENTS.length + 1);
  });

  test.each([
    ['81.2.69.1', 'EU'],
    ['8.8.8.8', 'NA'],
    ['1.1.1.1', 'OC'],
    ['200.160.0.8', 'SA'],
    ['41.0.0.1', 'AF'],
    ['202.12.27.33', 'AS'],
    ['10.1.2.3', 'unknown'],
    ['127.0.0.1', 'unknown'],
  ])('%s is in %s', (address, expected) => {
    const r = createGeoResult();
    lookupV4(byContinent, ip4(address), r);
    expect(continent(r.continent)).toBe(expected);
  });

  test('scope is the widest aligned block of one continent (gdnsd-style merging)', () => {
    const r = createGeoResult();
    lookupV4(byContinent, ip4('8.8.8.0'), r);
    // The database's own network for 8.8.8.8 is /15; adjacent US networks merge to /14.
    expect(r.scope).toBe(14);
    lookupV4(byContinent, ip4('127.0.0.1'), r);
    expect(r.scope).toBe(8);
  });

  test('merging by answer class widens scopes further', () => {
    // Everything in one class: every address has scope 0.
    const one = createGeoIndex(table, new Uint8Array(8));
    const r = createGeoResult();
    lookupV4(one, ip4('81.2.69.1'), r);
    expect(r.scope).toBe(0);
  });

  test('IPv6 lookups use the first 64 bits', () => {
    const r = createGeoResult();
    lookupV6(byContinent, 0x2a001450, 0, r);
    expect(continent(r.continent)).toBe('EU');
    lookupV6(byContinent, 0x20014860, 0, r);
    expect(continent(r.continent)).toBe('NA');
    expect(r.scope).toBeGreaterThan(0);
    expect(r.scope).toBeLessThanOrEqual(32);
  });
});

describe('continentOfRecord', () => {
  test('reads GeoLite2/DB-IP records and country-only ones', () => {
    expect(
      continent(continentOfRecord({ continent: { code: 'EU' }, country: { iso_code: 'FR' } })),
    ).toBe('EU');
    expect(continent(continentOfRecord({ country: { iso_code: 'BR' } }))).toBe('SA');
    expect(continent(continentOfRecord({ registered_country: { iso_code: 'JP' } }))).toBe('AS');
    expect(continent(continentOfRecord({ country_code: 'nz' }))).toBe('OC');
    expect(continent(continentOfRecord({ country_code: 'RU' }))).toBe('EU');
    expect(continentOfRecord({ country_code: 'ZZ' })).toBe(UNKNOWN_CONTINENT);
    expect(continentOfRecord(null)).toBe(UNKNOWN_CONTINENT);
  });
});
