// Converts the bundled country-only database (`country_code`) into the
// GeoIP2-Country shape (`continent.code`, `country.iso_code`) that gdnsd's and
// PowerDNS's geoip support read, using owncdn's country → continent table.
// The search tree is copied as is, so every server sees the same networks.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../packages/geodns/package.json', import.meta.url));
const { Reader } = require('maxmind');

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com')]);

/** MMDB data-section encoding (MaxMind DB spec §"Output Data Section"). */
function encode(value) {
  if (typeof value === 'string') return withControl(2, Buffer.from(value, 'utf8'));
  if (value && typeof value === 'object' && '$uint' in value) {
    const bytes = uintBytes(value.$uint);
    return withControl(value.type, bytes);
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encode)]);
  const entries = Object.entries(value);
  return Buffer.concat([
    control(7, entries.length),
    ...entries.flatMap(([k, v]) => [encode(k), encode(v)]),
  ]);
}

function uintBytes(n) {
  const out = [];
  let v = BigInt(n);
  while (v > 0n) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.from(out);
}

function withControl(type, payload) {
  return Buffer.concat([control(type, payload.length), payload]);
}

function control(type, size) {
  const head = [];
  let sizeBits;
  const ext = [];
  if (size < 29) {
    sizeBits = size;
  } else if (size < 285) {
    sizeBits = 29;
    ext.push(size - 29);
  } else if (size < 65821) {
    sizeBits = 30;
    ext.push((size - 285) >> 8, (size - 285) & 0xff);
  } else {
    throw new Error('value too large');
  }
  if (type <= 7) head.push((type << 5) | sizeBits);
  else head.push(sizeBits, type - 7);
  return Buffer.from([...head, ...ext]);
}

const uint = (type, n) => ({ $uint: n, type });

/**
 * Writes `out` from `input`: same tree, data records rewritten through
 * `continentOf(countryCode)` (owncdn's table).
 */
export function convertDatabase(input, out, continentOf) {
  const db = readFileSync(input);
  const reader = new Reader(db);
  const { nodeCount, recordSize } = reader.metadata;
  if (recordSize !== 24)
    throw new Error(`only 24-bit record databases are handled (got ${recordSize})`);
  const treeBytes = nodeCount * 6;
  const rec = (o) => (db[o] << 16) | (db[o + 1] << 8) | db[o + 2];

  // One address per data pointer, to decode it with the reader.
  const sample = new Map();
  const visited = new Uint8Array(nodeCount);
  const stack = [[0, 0, 0n]];
  while (stack.length > 0) {
    const [node, depth, prefix] = stack.pop();
    if (visited[node]) continue;
    visited[node] = 1;
    for (const bit of [0, 1]) {
      const r = rec(node * 6 + bit * 3);
      const next = prefix | (BigInt(bit) << BigInt(127 - depth));
      if (r < nodeCount) stack.push([r, depth + 1, next]);
      else if (r > nodeCount && !sample.has(r)) sample.set(r, next);
    }
  }

  const records = new Map();
  const chunks = [];
  let offset = 0;
  const pointerFor = new Map();
  for (const [pointer, prefix] of sample) {
    const ip = formatV6(prefix);
    const data = reader.get(ip);
    const country = typeof data?.country_code === 'string' ? data.country_code.toUpperCase() : null;
    const continent = country ? continentOf(country) : null;
    const key = `${continent}/${country}`;
    if (!records.has(key)) {
      const value = {};
      if (continent) value.continent = { code: continent };
      if (country) value.country = { iso_code: country };
      const bytes = encode(value);
      records.set(key, offset);
      chunks.push(bytes);
      offset += bytes.length;
    }
    pointerFor.set(pointer, nodeCount + 16 + records.get(key));
  }

  const tree = Buffer.from(db.subarray(0, treeBytes));
  const put = (o, v) => {
    tree[o] = (v >> 16) & 0xff;
    tree[o + 1] = (v >> 8) & 0xff;
    tree[o + 2] = v & 0xff;
  };
  for (let node = 0; node < nodeCount; node++) {
    for (const o of [node * 6, node * 6 + 3]) {
      const r = rec(o);
      if (r > nodeCount) put(o, pointerFor.get(r) ?? nodeCount);
    }
  }
  const metadata = encode({
    binary_format_major_version: uint(5, 2),
    binary_format_minor_version: uint(5, 0),
    build_epoch: uint(9, Math.floor(reader.metadata.buildEpoch.getTime() / 1000)),
    database_type: 'GeoIP2-Country',
    description: {
      en: 'geo-whois-asn-country (CC0) in GeoIP2-Country shape, continents from owncdn',
    },
    ip_version: uint(5, 6),
    languages: ['en'],
    node_count: uint(6, nodeCount),
    record_size: uint(5, 24),
  });
  writeFileSync(out, Buffer.concat([tree, Buffer.alloc(16), ...chunks, METADATA_MARKER, metadata]));
  return { nodeCount, records: records.size };
}

function formatV6(prefix) {
  const groups = [];
  for (let i = 7; i >= 0; i--)
    groups.push(Number((prefix >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}
