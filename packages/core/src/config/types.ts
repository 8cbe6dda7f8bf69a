/**
 * The loaded, validated and normalised owncdn.yaml. Every duration is in
 * milliseconds (`…Ms`), every size in bytes (`…Bytes`), every local path
 * absolute. The object returned by `loadConfig` is deep-frozen.
 */

/** The seven continent codes used by MaxMind-format databases. */
export const CONTINENTS = ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'] as const;
export type Continent = (typeof CONTINENTS)[number];

export interface Config {
  /** Absolute path of the file this was loaded from (`<inline>` when loaded from text). */
  readonly file: string;
  /** Directory that relative paths in the file were resolved against. */
  readonly dir: string;
  readonly site: SiteConfig;
  readonly nodes: readonly NodeConfig[];
  readonly ssh: SshConfig;
  readonly origin: OriginConfig;
  readonly dns: DnsConfig;
  readonly certd: CertdConfig;
  readonly sync: SyncConfig;
}

export interface SiteConfig {
  /** The zone geodns is authoritative for, lower-case, no trailing dot. */
  readonly domain: string;
  /** Names that resolve to the nodes (geo A/AAAA), lower-case, inside `domain`. */
  readonly names: readonly string[];
  /** Absolute path of the directory `sync push` publishes. */
  readonly content: string;
}

export interface NodeConfig {
  readonly name: string;
  readonly ipv4: string;
  readonly ipv6: string | null;
  readonly continents: readonly Continent[];
  readonly default: boolean;
  /**
   * Where sync and certd reach the node: `user@host`, `host`, `user@host:port`
   * or an alias from the ssh config. `null` = a local node (a directory here).
   */
  readonly ssh: string | null;
  /** The node's one directory (releases/, current, certs/, acme-challenge/). Absolute. */
  readonly root: string;
  /** Port origin serves plain HTTP on, for this node (defaults to `origin.http`). */
  readonly httpPort: number;
  /** Port origin serves HTTPS on, for this node (defaults to `origin.https`). */
  readonly httpsPort: number;
  /** Command run on the node after certd deployed a certificate (rarely needed: origin reloads by itself). */
  readonly postDeploy: string | null;
}

export interface SshConfig {
  /** An ssh_config file passed as `ssh -F` (null = the user's ~/.ssh/config). */
  readonly config: string | null;
  /** Extra `-o Key=Value` options for every ssh invocation. */
  readonly options: readonly string[];
  /** Connection timeout for ssh (ConnectTimeout), ms. */
  readonly connectTimeoutMs: number;
}

export interface HeaderRule {
  /** Glob over the URL path (picomatch), e.g. `/assets/**` or `**\/*.html`. */
  readonly match: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface OriginConfig {
  /** Default plain-HTTP port. */
  readonly http: number;
  /** Default HTTPS port. */
  readonly https: number;
  /**
   * Where to bind: `all` (every address, `::` and `0.0.0.0`), `node` (the
   * node's own ipv4/ipv6 — used by the demo and tests), or one IP address.
   */
  readonly bind: string;
  /** Separate listener for /healthz and /metrics (`host:port`), or null to serve them on the main listeners. */
  readonly admin: string | null;
  readonly healthPath: string;
  readonly metricsPath: string;
  /** Worker processes; 0 = one per CPU core. */
  readonly workers: number;
  /** Files above this size stay on disk and are streamed. */
  readonly maxMemoryFileBytes: number;
  /** `add`: /dir → 301 /dir/; `remove`: /dir/ → 301 /dir. */
  readonly trailingSlash: 'add' | 'remove';
  /** Redirect plain HTTP to HTTPS (308) once a certificate is present. */
  readonly redirectHttps: boolean;
  readonly headers: readonly HeaderRule[];
  /** `off`, `stdout`, or an absolute file path. */
  readonly accessLog: string;
  readonly accessLogFormat: 'combined' | 'json';
  readonly maxHeaderBytes: number;
  readonly maxUrlBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** Time SIGTERM waits for in-flight requests before closing connections. */
  readonly drainTimeoutMs: number;
}

export interface NameserverConfig {
  /** Host name of the nameserver (lower-case, no trailing dot). */
  readonly name: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  /** Base URL of this nameserver's geodns API (used by certd for DNS-01), or null. */
  readonly api: string | null;
}

export type StaticRecordType = 'A' | 'AAAA' | 'CNAME' | 'MX' | 'TXT' | 'CAA' | 'SRV' | 'NS';

export interface StaticRecord {
  /** Fully qualified, lower-case, no trailing dot (`@` in the file = the zone apex). */
  readonly name: string;
  readonly type: StaticRecordType;
  /** Presentation format as written (e.g. `10 mail.example.org.`), names made absolute. */
  readonly value: string;
  readonly ttl: number;
}

export interface HealthConfig {
  readonly path: string;
  readonly scheme: 'http' | 'https';
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Good probes in a row that bring a down node back. */
  readonly rise: number;
  /** Failed probes in a row that take a node out. */
  readonly fall: number;
  /** Random spread added to each interval, as a fraction of it (0.1 = ±10 %). */
  readonly jitter: number;
}

export interface SoaConfig {
  /** Primary nameserver (MNAME); defaults to the first of dns.nameservers. */
  readonly mname: string;
  /** Responsible mailbox in domain form (RNAME), e.g. `hostmaster.example.org`. */
  readonly rname: string;
  readonly refreshS: number;
  readonly retryS: number;
  readonly expireS: number;
  /** Negative-caching TTL (RFC 2308), seconds. */
  readonly minimumS: number;
}

export interface RrlConfig {
  readonly enabled: boolean;
  /** Identical responses per second allowed to one client prefix. */
  readonly responsesPerSecond: number;
  /** Every Nth rate-limited response is sent truncated (TC) instead of dropped; 0 = drop all. */
  readonly slip: number;
  readonly ipv4PrefixLength: number;
  readonly ipv6PrefixLength: number;
}

export interface DnsConfig {
  readonly nameservers: readonly NameserverConfig[];
  /** TTL of the geo A/AAAA answers, seconds: keep short so failover is quick. */
  readonly ttl: number;
  /** TTL of SOA, NS, glue and static records without their own, seconds. */
  readonly staticTtl: number;
  readonly soa: SoaConfig;
  readonly records: readonly StaticRecord[];
  /** Absolute path of a MaxMind-format .mmdb, or null for the bundled CC0 database. */
  readonly geoip: string | null;
  readonly health: HealthConfig;
  /** Addresses geodns listens on (UDP and TCP), `host:port`. */
  readonly listen: readonly string[];
  /** Worker processes sharing the sockets; 0 = one per CPU core. */
  readonly workers: number;
  readonly api: {
    /** `host:port`; loopback by default. null = no API. */
    readonly listen: string | null;
    /** File holding the bearer token (absolute path). */
    readonly tokenFile: string | null;
    /** DNS-01 TXT records set through the API expire after this long. */
    readonly txtLifetimeMs: number;
  };
  readonly rrl: RrlConfig;
  /** Largest UDP reply when the client sends no EDNS0 (RFC 1035: 512) is fixed; this caps EDNS0 payloads. */
  readonly maxUdpPayloadBytes: number;
  readonly tcpIdleTimeoutMs: number;
}

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072';

export interface CertificateConfig {
  /** Directory name under `<root>/certs/` and key in certd's state. */
  readonly name: string;
  /** SANs, lower-case; `*.` names need DNS-01. */
  readonly names: readonly string[];
  readonly keyType: KeyType;
  readonly challenge: 'http-01' | 'dns-01';
}

export interface CertdConfig {
  /** Contact e-mail for the ACME account, or null. */
  readonly email: string | null;
  /** ACME directory URL (`letsencrypt` and `staging` shorthands resolved). */
  readonly directory: string;
  /** Must be true to create an account: the CA's terms of service are agreed in the config. */
  readonly agreeTerms: boolean;
  readonly eab: { readonly kid: string; readonly hmacFile: string } | null;
  readonly challenge: 'http-01' | 'dns-01';
  /** `stateless`: nodes answer any token with the account thumbprint; `per-token`: tokens pushed per order. */
  readonly http01Mode: 'stateless' | 'per-token';
  /** Directory holding the account key, certificates and state (absolute). */
  readonly state: string;
  readonly certificates: readonly CertificateConfig[];
  /** Keep the private key across renewals (default: a new key per certificate). */
  readonly reuseKey: boolean;
  /** ACME profile to request when the CA lists it (e.g. `shortlived`), or null. */
  readonly profile: string | null;
  /** How often to check for renewals. */
  readonly checkIntervalMs: number;
  /** PEM file of extra CA certificates to trust for the ACME directory (e.g. Pebble's), or null. */
  readonly caCert: string | null;
  /** URL POSTed a short text when a person must act (e.g. an ntfy topic), or null. */
  readonly webhook: string | null;
  /** `host:port` for certd's /metrics, or null. */
  readonly metrics: string | null;
}

export interface SyncConfig {
  /** Releases kept per node (the current and previous one are never pruned). */
  readonly keep: number;
  /** rsync exclude patterns, besides the built-in dotfile rule. */
  readonly exclude: readonly string[];
  /** How long to wait for every origin to report the new release. */
  readonly confirmTimeoutMs: number;
}
