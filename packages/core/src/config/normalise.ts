import { isAbsolute, resolve } from 'node:path';
import { parseDuration, parseSize } from '../duration.js';
import { ACME_DIRECTORIES, DEFAULTS } from './defaults.js';
import { absoluteName } from './rules.js';
import { originSchema } from './schema.js';
import type { RawConfig } from './schema.js';
import type { Config, NodeConfig, OriginConfig, StaticRecord } from './types.js';

/** Milliseconds of a duration the schema already accepted. */
function ms(text: string): number {
  return parseDuration(text) ?? 0;
}

function seconds(text: string): number {
  return Math.round(ms(text) / 1000);
}

function bytes(text: string): number {
  return parseSize(text) ?? 0;
}

/** Turns the checked file into the runtime Config: units, absolute paths, dependent defaults. */
export function normaliseConfig(raw: RawConfig, file: string, dir: string): Config {
  const path = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const zone = raw.site.domain.toLowerCase().replace(/\.$/, '');
  const names = (raw.site.names ?? [zone]).map((n) => n.toLowerCase().replace(/\.$/, ''));
  const o = raw.origin;
  const nodes: NodeConfig[] = raw.nodes.map((n) => ({
    name: n.name,
    ipv4: n.ipv4,
    ipv6: n.ipv6 ?? null,
    continents: n.continents,
    default: n.default,
    ssh: n.ssh ?? null,
    root: n.ssh ? (n.root ?? DEFAULTS.node.remoteRoot) : path(n.root ?? '.'),
    httpPort: n.http ?? o.http,
    httpsPort: n.https ?? o.https,
    postDeploy: n.postDeploy ?? null,
  }));
  const d = raw.dns;
  const firstNs = d.nameservers[0]?.name ?? `ns1.${zone}`;
  const records: StaticRecord[] = d.records.map((r) => ({
    name: absoluteName(r.name, zone),
    type: r.type,
    value: String(r.value),
    ttl: r.ttl ?? d.staticTtl,
  }));
  const c = raw.certd;
  return {
    file,
    dir,
    site: { domain: zone, names, content: path(raw.site.content) },
    nodes,
    ssh: {
      config: raw.ssh.config === null ? null : path(raw.ssh.config),
      options: raw.ssh.options,
      connectTimeoutMs: ms(raw.ssh.connectTimeout),
    },
    origin: normaliseOrigin(raw.origin, path),
    dns: {
      nameservers: d.nameservers.map((ns) => ({
        name: ns.name.toLowerCase().replace(/\.$/, ''),
        ipv4: ns.ipv4 ?? null,
        ipv6: ns.ipv6 ?? null,
        api: ns.api ?? null,
      })),
      ttl: d.ttl,
      staticTtl: d.staticTtl,
      soa: {
        mname: (d.soa.mname ?? firstNs).toLowerCase().replace(/\.$/, ''),
        rname: (d.soa.rname ?? `hostmaster.${zone}`).replace('@', '.').replace(/\.$/, ''),
        refreshS: seconds(d.soa.refresh),
        retryS: seconds(d.soa.retry),
        expireS: seconds(d.soa.expire),
        minimumS: seconds(d.soa.minimum),
      },
      records,
      geoip: d.geoip === null ? null : path(d.geoip),
      health: {
        path: d.health.path,
        scheme: d.health.scheme,
        intervalMs: ms(d.health.interval),
        timeoutMs: ms(d.health.timeout),
        rise: d.health.rise,
        fall: d.health.fall,
        jitter: d.health.jitter,
      },
      listen: d.listen,
      workers: d.workers,
      api: {
        listen: d.api.listen,
        tokenFile: d.api.tokenFile === null ? null : path(d.api.tokenFile),
        txtLifetimeMs: ms(d.api.txtLifetime),
      },
      rrl: d.rrl,
      maxUdpPayloadBytes: d.maxUdpPayload,
      tcpIdleTimeoutMs: ms(d.tcpIdleTimeout),
    },
    certd: {
      email: c.email,
      directory: ACME_DIRECTORIES[c.directory] ?? c.directory,
      agreeTerms: c.agreeTerms,
      eab: c.eab === null ? null : { kid: c.eab.kid, hmacFile: path(c.eab.hmacFile) },
      challenge: c.challenge,
      http01Mode: c.http01Mode,
      state: path(c.state),
      certificates: (c.certificates ?? [{ name: zone, names }]).map((cert) => ({
        name: cert.name,
        names: cert.names.map((n) => n.toLowerCase()),
        keyType: cert.keyType ?? c.keyType,
        challenge: cert.challenge ?? c.challenge,
      })),
      reuseKey: c.reuseKey,
      profile: c.profile,
      checkIntervalMs: ms(c.checkInterval),
      caCert: c.caCert === null ? null : path(c.caCert),
      webhook: c.webhook,
      metrics: c.metrics,
    },
    sync: {
      keep: raw.sync.keep,
      exclude: raw.sync.exclude,
      confirmTimeoutMs: ms(raw.sync.confirmTimeout),
    },
  };
}

/** The origin section in runtime units; `path` makes a relative access-log path absolute. */
export function normaliseOrigin(o: RawConfig['origin'], path: (p: string) => string): OriginConfig {
  return {
    http: o.http,
    https: o.https,
    bind: o.bind,
    admin: o.admin,
    healthPath: o.healthPath,
    metricsPath: o.metricsPath,
    workers: o.workers,
    maxMemoryFileBytes: bytes(o.maxMemoryFileSize),
    trailingSlash: o.trailingSlash,
    redirectHttps: o.redirectHttps,
    headers: o.headers,
    accessLog: o.accessLog === 'off' || o.accessLog === 'stdout' ? o.accessLog : path(o.accessLog),
    accessLogFormat: o.accessLogFormat,
    maxHeaderBytes: bytes(o.maxHeaderSize),
    maxUrlBytes: bytes(o.maxUrlLength),
    headersTimeoutMs: ms(o.headersTimeout),
    requestTimeoutMs: ms(o.requestTimeout),
    keepAliveTimeoutMs: ms(o.keepAliveTimeout),
    drainTimeoutMs: ms(o.drainTimeout),
  };
}

/** The origin section with every default applied, for `owncdn origin --dir` without a config file. */
export function defaultOriginConfig(): OriginConfig {
  return deepFreeze(normaliseOrigin(originSchema.parse({}), (p) => resolve(p)));
}

/** Freezes an object and everything reachable from it (fastify freezes its options the same way). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
