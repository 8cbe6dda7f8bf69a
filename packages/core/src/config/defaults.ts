/** Every default of owncdn.yaml, in one place, with its unit. */

export const DEFAULTS = {
  site: {
    content: './public',
  },
  node: {
    /** Where a node keeps releases/, current, certs/ when reached over ssh. */
    remoteRoot: '/var/lib/owncdn',
  },
  ssh: {
    connectTimeout: '10s',
  },
  origin: {
    http: 80,
    https: 443,
    bind: 'all',
    healthPath: '/healthz',
    metricsPath: '/metrics',
    /** 0 = one worker process per CPU core. */
    workers: 0,
    /** Files above this stay on disk and are streamed (bytes). */
    maxMemoryFileSize: '8MiB',
    trailingSlash: 'add',
    redirectHttps: true,
    accessLog: 'off',
    accessLogFormat: 'combined',
    /** nginx's large_client_header_buffers is 4×8 KiB; Node's default is 16 KiB. */
    maxHeaderSize: '16KiB',
    /** nginx answers 414 past 8 KiB of request line. */
    maxUrlLength: '8KiB',
    headersTimeout: '10s',
    requestTimeout: '30s',
    keepAliveTimeout: '5s',
    drainTimeout: '10s',
  },
  dns: {
    /** Seconds. Geo answers stay short-lived so a failover takes effect quickly. */
    ttl: 60,
    /** Seconds, for SOA, NS, glue and static records. */
    staticTtl: 3600,
    soa: {
      refresh: '1h',
      retry: '15m',
      expire: '7d',
      /** Negative-caching TTL: NXDOMAIN answers are cached this long. */
      minimum: '5m',
    },
    health: {
      path: '/healthz',
      scheme: 'http',
      interval: '10s',
      timeout: '2s',
      rise: 2,
      fall: 3,
      /** ±10 % spread, so several nameservers do not probe in lockstep. */
      jitter: 0.1,
    },
    listen: ['0.0.0.0:53', '[::]:53'],
    workers: 0,
    api: {
      listen: '127.0.0.1:8053',
      /** DNS-01 challenges finish in seconds; a forgotten record goes away on its own. */
      txtLifetime: '10m',
    },
    rrl: {
      enabled: true,
      /** Knot's rate-limit default is 20; BIND suggests 5–20 for an authoritative. */
      responsesPerSecond: 20,
      /** Every 2nd limited reply goes out truncated so real clients retry over TCP. */
      slip: 2,
      ipv4PrefixLength: 24,
      ipv6PrefixLength: 56,
    },
    /** RFC 9715 / DNS flag day 2020: 1232 bytes avoids IP fragmentation. */
    maxUdpPayload: 1232,
    /** RFC 7766 §6.2.3 suggests a timeout of at least a few seconds. */
    tcpIdleTimeout: '10s',
  },
  certd: {
    directory: 'letsencrypt',
    challenge: 'http-01',
    http01Mode: 'stateless',
    state: './certd-state',
    keyType: 'ec-p256',
    reuseKey: false,
    /** Twice a day, as Let's Encrypt recommends for ARI checks. */
    checkInterval: '12h',
  },
  sync: {
    keep: 5,
    confirmTimeout: '30s',
  },
} as const;

/** ACME directory shorthands accepted in `certd.directory`. */
export const ACME_DIRECTORIES: Readonly<Record<string, string>> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  zerossl: 'https://acme.zerossl.com/v2/DV90',
};
