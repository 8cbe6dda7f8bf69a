import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { parseDuration, parseSize } from '../duration.js';
import { CONTINENTS } from './types.js';
import { DEFAULTS } from './defaults.js';

/**
 * The shape of owncdn.yaml as written: types, formats and unknown keys. Checks
 * across fields live in rules.ts; defaults that depend on other fields and
 * unit conversion live in normalise.ts.
 */

/** `"x"` for strings, the JSON text otherwise: how a wrong value is quoted in messages. */
export function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return typeof value;
}

const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** True for a DNS host name (letters, digits, hyphens; 253 characters at most); `*.` allowed when `wildcard`. */
export function isHostname(text: string, wildcard = false): boolean {
  let name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (wildcard && name.startsWith('*.')) name = name.slice(2);
  if (name.length === 0 || name.length > 253) return false;
  return name
    .split('.')
    .every((label) => HOSTNAME_LABEL.test(label) || label === '_acme-challenge');
}

const duration = (example: string) =>
  z.string().refine((v) => parseDuration(v) !== null, {
    error: (iss) =>
      `${quote(iss.input)} is not a duration (expected e.g. "${example}": a number with ms, s, m, h or d)`,
  });

const size = (example: string) =>
  z.string().refine((v) => parseSize(v) !== null, {
    error: (iss) =>
      `${quote(iss.input)} is not a size (expected e.g. "${example}": a number with B, KiB, MiB or GiB)`,
  });

const ipv4 = z.string().refine(isIPv4, {
  error: (iss) => `${quote(iss.input)} is not an IPv4 address (expected e.g. 203.0.113.10)`,
});
const ipv6 = z.string().refine(isIPv6, {
  error: (iss) => `${quote(iss.input)} is not an IPv6 address (expected e.g. 2001:db8::10)`,
});
const hostname = z.string().refine((v) => isHostname(v), {
  error: (iss) =>
    `${quote(iss.input)} is not a valid host name (expected letters, digits, hyphens and dots)`,
});
const port = z
  .number()
  .int()
  .min(1)
  .max(65535, { error: (iss) => `${quote(iss.input)} is not a port (expected 1–65535)` });
const hostPort = z.string().refine((v) => /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/.test(v), {
  error: (iss) =>
    `${quote(iss.input)} is not an address (expected host:port, e.g. 127.0.0.1:8053 or [::1]:53)`,
});
const urlPath = z.string().refine((v) => v.startsWith('/') && !/[\s?#]/.test(v), {
  error: (iss) => `${quote(iss.input)} is not a URL path (expected e.g. /healthz)`,
});
const httpUrl = z.string().refine((v) => /^https?:\/\/[^\s/]+/.test(v), {
  error: (iss) => `${quote(iss.input)} is not a URL (expected http:// or https://…)`,
});
const continent = z
  .string()
  .refine((v): v is (typeof CONTINENTS)[number] => (CONTINENTS as readonly string[]).includes(v), {
    error: (iss) =>
      `${quote(iss.input)} is not a continent code (expected ${CONTINENTS.join(' ')})`,
  });
const nodeName = z.string().refine((v) => /^[a-z0-9][a-z0-9-]{0,31}$/.test(v), {
  error: (iss) =>
    `${quote(iss.input)} is not a node name (expected 1–32 lower-case letters, digits or hyphens, e.g. fr or us-east)`,
});
const positiveInt = z.number().int().min(1);

export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'CAA', 'SRV', 'NS'] as const;
export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const;

const oneOf = <const T extends readonly [string, ...string[]]>(values: T, what: string) =>
  z.enum(values, {
    error: (iss) => `${quote(iss.input)} is not ${what} (expected one of ${values.join(', ')})`,
  });

const siteSchema = z.strictObject({
  domain: hostname,
  names: z.array(hostname).min(1).optional(),
  content: z.string().min(1).default(DEFAULTS.site.content),
});

const nodeSchema = z.strictObject({
  name: nodeName,
  ipv4,
  ipv6: ipv6.nullable().optional(),
  continents: z.array(continent).default([]),
  default: z.boolean().default(false),
  ssh: z.string().min(1).nullable().optional(),
  root: z.string().min(1).optional(),
  http: port.optional(),
  https: port.optional(),
  postDeploy: z.string().min(1).nullable().optional(),
});

const sshSchema = z.strictObject({
  config: z.string().min(1).nullable().default(null),
  options: z
    .array(
      z.string().regex(/^[A-Za-z]+=.*$/, { error: 'is not an ssh option (expected Key=Value)' }),
    )
    .default([]),
  connectTimeout: duration('10s').default(DEFAULTS.ssh.connectTimeout),
});

const o = DEFAULTS.origin;
export const originSchema = z.strictObject({
  http: port.default(o.http),
  https: port.default(o.https),
  bind: z
    .string()
    .refine((v) => v === 'all' || v === 'node' || isIPv4(v) || isIPv6(v), {
      error: (iss) =>
        `${quote(iss.input)} is not a bind address (expected all, node, or an IP address)`,
    })
    .default(o.bind),
  admin: hostPort.nullable().default(null),
  healthPath: urlPath.default(o.healthPath),
  metricsPath: urlPath.default(o.metricsPath),
  workers: z.number().int().min(0).max(256).default(o.workers),
  maxMemoryFileSize: size('8MiB').default(o.maxMemoryFileSize),
  trailingSlash: oneOf(['add', 'remove'], 'a trailing-slash policy').default(o.trailingSlash),
  redirectHttps: z.boolean().default(o.redirectHttps),
  headers: z
    .array(
      z.strictObject({
        match: z.string().min(1),
        headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string()),
      }),
    )
    .default([]),
  accessLog: z.string().min(1).default(o.accessLog),
  accessLogFormat: oneOf(['combined', 'json'], 'an access-log format').default(o.accessLogFormat),
  maxHeaderSize: size('16KiB').default(o.maxHeaderSize),
  maxUrlLength: size('8KiB').default(o.maxUrlLength),
  headersTimeout: duration('10s').default(o.headersTimeout),
  requestTimeout: duration('30s').default(o.requestTimeout),
  keepAliveTimeout: duration('5s').default(o.keepAliveTimeout),
  drainTimeout: duration('10s').default(o.drainTimeout),
});

const d = DEFAULTS.dns;
const nameserverSchema = z.strictObject({
  name: hostname,
  ipv4: ipv4.nullable().optional(),
  ipv6: ipv6.nullable().optional(),
  api: httpUrl.nullable().optional(),
});

const recordSchema = z.strictObject({
  name: z.string().min(1),
  type: oneOf(RECORD_TYPES, 'a supported record type'),
  value: z.union([z.string().min(1), z.number()]),
  ttl: z.number().int().min(0).max(2_147_483_647).optional(),
});

const dnsSchema = z.strictObject({
  nameservers: z.array(nameserverSchema).min(1, { error: 'needs at least one nameserver' }),
  ttl: z.number().int().min(1).max(86_400).default(d.ttl),
  staticTtl: z.number().int().min(1).max(2_147_483_647).default(d.staticTtl),
  soa: z
    .strictObject({
      mname: hostname.optional(),
      rname: z.string().min(1).optional(),
      refresh: duration('1h').default(d.soa.refresh),
      retry: duration('15m').default(d.soa.retry),
      expire: duration('7d').default(d.soa.expire),
      minimum: duration('5m').default(d.soa.minimum),
    })
    .prefault({}),
  records: z.array(recordSchema).default([]),
  geoip: z.string().min(1).nullable().default(null),
  health: z
    .strictObject({
      path: urlPath.default(d.health.path),
      scheme: oneOf(['http', 'https'], 'a probe scheme').default(d.health.scheme),
      interval: duration('10s').default(d.health.interval),
      timeout: duration('2s').default(d.health.timeout),
      rise: positiveInt.default(d.health.rise),
      fall: positiveInt.default(d.health.fall),
      jitter: z.number().min(0).max(0.5).default(d.health.jitter),
    })
    .prefault({}),
  listen: z
    .array(hostPort)
    .min(1)
    .default([...d.listen]),
  workers: z.number().int().min(0).max(256).default(d.workers),
  api: z
    .strictObject({
      listen: hostPort.nullable().default(d.api.listen),
      tokenFile: z.string().min(1).nullable().default(null),
      txtLifetime: duration('10m').default(d.api.txtLifetime),
    })
    .prefault({}),
  rrl: z
    .strictObject({
      enabled: z.boolean().default(d.rrl.enabled),
      responsesPerSecond: positiveInt.default(d.rrl.responsesPerSecond),
      slip: z.number().int().min(0).max(10).default(d.rrl.slip),
      ipv4PrefixLength: z.number().int().min(8).max(32).default(d.rrl.ipv4PrefixLength),
      ipv6PrefixLength: z.number().int().min(16).max(128).default(d.rrl.ipv6PrefixLength),
    })
    .prefault({}),
  maxUdpPayload: z.number().int().min(512).max(4096).default(d.maxUdpPayload),
  tcpIdleTimeout: duration('10s').default(d.tcpIdleTimeout),
});

const c = DEFAULTS.certd;
const certificateSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9*][a-z0-9.*-]*$/, {
    error: 'is not a certificate name (expected e.g. example.org)',
  }),
  names: z
    .array(
      z.string().refine((v) => isHostname(v, true), {
        error: (iss) => `${quote(iss.input)} is not a host name`,
      }),
    )
    .min(1),
  keyType: oneOf(KEY_TYPES, 'a key type').optional(),
  challenge: oneOf(['http-01', 'dns-01'], 'a challenge type').optional(),
});

const certdSchema = z.strictObject({
  email: z
    .string()
    .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, {
      error: (iss) => `${quote(iss.input)} is not an e-mail address`,
    })
    .nullable()
    .default(null),
  directory: z.string().min(1).default(c.directory),
  agreeTerms: z.boolean().default(false),
  eab: z
    .strictObject({ kid: z.string().min(1), hmacFile: z.string().min(1) })
    .nullable()
    .default(null),
  challenge: oneOf(['http-01', 'dns-01'], 'a challenge type').default(c.challenge),
  http01Mode: oneOf(['stateless', 'per-token'], 'an HTTP-01 mode').default(c.http01Mode),
  state: z.string().min(1).default(c.state),
  certificates: z.array(certificateSchema).min(1).optional(),
  keyType: oneOf(KEY_TYPES, 'a key type').default(c.keyType),
  reuseKey: z.boolean().default(c.reuseKey),
  profile: z.string().min(1).nullable().default(null),
  checkInterval: duration('12h').default(c.checkInterval),
  caCert: z.string().min(1).nullable().default(null),
  webhook: httpUrl.nullable().default(null),
  metrics: hostPort.nullable().default(null),
});

const syncSchema = z.strictObject({
  keep: z
    .number()
    .int()
    .min(2, { error: 'must be at least 2 (the current and the previous release)' })
    .max(1000)
    .default(DEFAULTS.sync.keep),
  exclude: z.array(z.string().min(1)).default([]),
  confirmTimeout: duration('30s').default(DEFAULTS.sync.confirmTimeout),
});

export const fileSchema = z.strictObject({
  site: siteSchema,
  nodes: z.array(nodeSchema).min(1, { error: 'needs at least one node' }),
  ssh: sshSchema.prefault({}),
  origin: originSchema.prefault({}),
  dns: dnsSchema,
  certd: certdSchema.prefault({}),
  sync: syncSchema.prefault({}),
});

/** owncdn.yaml after the schema: types checked, simple defaults filled in. */
export type RawConfig = z.output<typeof fileSchema>;
