import { readdir, readFile, rm } from 'node:fs/promises';
import { OwncdnError } from '@owncdn/core';
import type { CertificateConfig } from '@owncdn/core';
import { AcmeError, createAcmeSession } from './acme.js';
import type { AcmeSession } from './acme.js';
import { ensureAccount, loadAccountKey, readEab } from './account.js';
import { describeError } from './context.js';
import type { CertdContext } from './context.js';
import { deployCertificate, needsDeploy } from './deploy.js';
import { createDns01Solver } from './dns01.js';
import { createHttp01Solver } from './http01.js';
import type { ChallengeSolver } from './http01.js';
import { jwkThumbprint } from './keys.js';
import type { Metrics } from './metrics.js';
import { certificateDir, obtainCertificate } from './order.js';
import { needsRenewal, renewalTimeByAri, renewalTimeByLifetime } from './renew.js';
import type { CertificateState } from './state.js';
import type { StateStore } from './store.js';

/** A certificate this close to expiry (10 days, ms) and still failing needs a person. */
export const ALERT_BEFORE_EXPIRY_MS = 10 * 24 * 3_600_000;

export interface CertificateOutcome {
  readonly name: string;
  /** True when this pass obtained a new certificate. */
  readonly issued: boolean;
  /** Why obtaining failed this pass (the current certificate keeps being served), or null. */
  readonly error: string | null;
  /** Nodes that do not serve the current certificate after this pass. */
  readonly nodesBehind: readonly string[];
  /** Epoch ms of the next thing to do for this certificate. */
  readonly nextAt: number;
}

export interface PassResult {
  readonly certificates: readonly CertificateOutcome[];
  /** True when every certificate is current and live on every node. */
  readonly ok: boolean;
}

export interface PassDeps {
  readonly store: StateStore;
  readonly metrics: Metrics;
  readonly random: () => number;
  /** Called with a short text when a person must act (webhook). */
  readonly alert: (text: string) => Promise<void>;
}

/**
 * One pass over every configured certificate: check ARI (when offered),
 * renew what is due (unless backing off), then deploy to every node that
 * does not serve the current certificate. Failures are recorded in the
 * state, never thrown, except for a corrupt state file or a bug.
 */
export async function runPass(ctx: CertdContext, deps: PassDeps): Promise<PassResult> {
  const { store } = deps;
  const certd = ctx.config.certd;
  const account = await loadAccountKey(certd.state, ctx.log);
  let session: AcmeSession | undefined;
  const getSession = async () => {
    if (session) return session;
    session = createAcmeSession({
      directoryUrl: certd.directory,
      accountKeyPem: account.pem,
      accountUrl:
        store.state.account?.directory === certd.directory ? store.state.account.url : null,
      eab: await readEab(certd),
      caPem: ctx.caPem,
      requestTimeoutMs: ctx.timings.requestTimeoutMs,
      pollIntervalMs: ctx.timings.pollIntervalMs,
      pollMaxIntervalMs: ctx.timings.pollMaxIntervalMs,
      pollAttempts: ctx.timings.pollAttempts,
    });
    return session;
  };
  const outcomes: CertificateOutcome[] = [];
  try {
    for (const cert of certd.certificates) {
      outcomes.push(await runCertificate(ctx, deps, cert, getSession, account.pem));
    }
  } finally {
    await session?.close();
  }
  deps.metrics.passes++;
  return {
    certificates: outcomes,
    ok: outcomes.every((o) => o.error === null && o.nodesBehind.length === 0),
  };
}

async function runCertificate(
  ctx: CertdContext,
  deps: PassDeps,
  cert: CertificateConfig,
  getSession: () => Promise<AcmeSession>,
  accountKeyPem: string,
): Promise<CertificateOutcome> {
  const { store } = deps;
  const log = ctx.log.child({ cert: cert.name });
  let state = store.certificate(cert.name);
  const save = (next: CertificateState) => store.updateCertificate(cert.name, () => next);
  let issued = false;
  let error: string | null = null;

  state = await refreshRenewalTime(ctx, deps, cert, state, getSession);
  const now = ctx.now();
  const due = needsRenewal(state, cert.names, now) || state.order !== null;
  if (due && state.retryAt !== null && state.retryAt > now) {
    error = state.lastError ?? 'backing off';
    log.debug({ retryAt: new Date(state.retryAt).toISOString() }, 'renewal due but backing off');
  } else if (due) {
    try {
      const session = await getSession();
      const account = await ensureAccount(
        session,
        ctx.config.certd,
        store.state,
        log,
        accountKeyPem,
      );
      if (store.state.account?.url !== account.url) await store.update((s) => ({ ...s, account }));
      const directory = await session.directory();
      const profile = pickProfile(ctx, directory.profiles, log);
      const replaces = directory.renewalInfo && state.current ? state.current.certId : null;
      const thumbprint = jwkThumbprint(accountKeyPem);
      const solvers = new Map<string, ChallengeSolver>();
      const solver = (type: 'http-01' | 'dns-01') => {
        let s = solvers.get(type);
        if (!s)
          solvers.set(
            type,
            (s = type === 'http-01' ? createHttp01Solver(ctx, thumbprint) : createDns01Solver(ctx)),
          );
        return s;
      };
      state = await obtainCertificate(ctx, {
        session,
        cert,
        state,
        save,
        solver,
        replaces,
        profile,
      });
      issued = true;
      deps.metrics.issued++;
      state = await refreshRenewalTime(ctx, deps, cert, state, getSession);
    } catch (caught) {
      if (!(caught instanceof OwncdnError) || caught.code === 'OWNCDN_INTERNAL') throw caught;
      error = describeError(caught);
      state = await recordFailure(ctx, deps, cert, state, caught);
    }
  }

  state = await deployCertificate(ctx, cert, state, (fn) => store.updateCertificate(cert.name, fn));
  const nodesBehind = ctx.config.nodes.filter((n) => needsDeploy(state, n)).map((n) => n.name);
  deps.metrics.deployFailures += nodesBehind.length;
  if (state.current && nodesBehind.length === 0)
    await pruneOldCertificates(ctx, cert.name, state.current.serial);
  deps.metrics.notAfter.set(cert.name, state.current?.notAfter ?? 0);

  const next = [
    state.renewAt ?? (state.current ? renewalTimeByLifetime(state.current) : ctx.now()),
    state.retryAt,
    state.ariCheckedUntil,
    nodesBehind.length > 0 ? ctx.now() + (ctx.timings.retryDelaysMs[0] ?? 60_000) : null,
  ].filter((t): t is number => t !== null);
  return { name: cert.name, issued, error, nodesBehind, nextAt: Math.min(...next) };
}

/**
 * Sets `renewAt`: from the CA's ARI window when the directory has
 * renewalInfo (fetched again once its Retry-After has passed), else by
 * lifetime. An ARI failure falls back to the lifetime rule.
 */
async function refreshRenewalTime(
  ctx: CertdContext,
  deps: PassDeps,
  cert: CertificateConfig,
  state: CertificateState,
  getSession: () => Promise<AcmeSession>,
): Promise<CertificateState> {
  const current = state.current;
  if (!current) return state;
  const now = ctx.now();
  if (state.renewAt !== null && state.ariCheckedUntil !== null && state.ariCheckedUntil > now)
    return state;
  let renewAt = renewalTimeByLifetime(current);
  let ariCheckedUntil: number | null = null;
  try {
    const info = await (await getSession()).renewalInfo(current.certId);
    if (info) {
      renewAt = renewalTimeByAri(info, now, deps.random());
      // RFC 9773 §4.3: poll again after Retry-After; without one, at the next regular check.
      ariCheckedUntil = Math.min(
        info.retryAt ?? now + ctx.config.certd.checkIntervalMs,
        now + ctx.config.certd.checkIntervalMs,
      );
      ctx.log.debug(
        {
          cert: cert.name,
          windowStart: new Date(info.start).toISOString(),
          windowEnd: new Date(info.end).toISOString(),
          renewAt: new Date(renewAt).toISOString(),
        },
        'ARI window',
      );
    }
  } catch (error) {
    if (!(error instanceof OwncdnError) || error.code === 'OWNCDN_INTERNAL') throw error;
    ctx.log.warn(
      { cert: cert.name, err: describeError(error) },
      'could not fetch ARI; renewing by lifetime',
    );
  }
  if (renewAt === state.renewAt && ariCheckedUntil === state.ariCheckedUntil) return state;
  return deps.store.updateCertificate(cert.name, (s) => ({ ...s, renewAt, ariCheckedUntil }));
}

async function recordFailure(
  ctx: CertdContext,
  deps: PassDeps,
  cert: CertificateConfig,
  state: CertificateState,
  error: OwncdnError,
): Promise<CertificateState> {
  const now = ctx.now();
  const failures = state.failures + 1;
  const delays = ctx.timings.retryDelaysMs;
  const backoff = delays[Math.min(failures, delays.length) - 1] ?? 60_000;
  const retryAfter = error instanceof AcmeError ? error.retryAfterMs : null;
  const retryAt = now + Math.max(backoff, retryAfter ?? 0);
  deps.metrics.failures++;
  const message = describeError(error);
  const expiresIn = state.current ? state.current.notAfter - now : 0;
  const fields = {
    cert: cert.name,
    failures,
    code: error.code,
    retryAt: new Date(retryAt).toISOString(),
    err: message,
  };
  if (expiresIn <= ALERT_BEFORE_EXPIRY_MS) {
    ctx.log.error(fields, 'certificate renewal failing close to expiry; a person must act');
    const when = state.current
      ? `expires ${new Date(state.current.notAfter).toISOString()}`
      : 'has never been issued';
    await deps.alert(
      `owncdn certd: ${cert.name} ${when} and obtaining it failed ${failures} time(s): ${message}`,
    );
  } else {
    ctx.log.warn(
      fields,
      'obtaining certificate failed; keeping the current one and retrying later',
    );
  }
  return deps.store.updateCertificate(cert.name, (s) => ({
    ...s,
    failures,
    retryAt,
    lastError: message,
  }));
}

function pickProfile(
  ctx: CertdContext,
  offered: readonly string[],
  log: CertdContext['log'],
): string | null {
  const wanted = ctx.config.certd.profile;
  if (!wanted) return null;
  if (offered.includes(wanted)) return wanted;
  log.warn(
    { profile: wanted, offered },
    'the CA does not list this profile; ordering with its default',
  );
  return null;
}

/** Removes issued certificates older than the current one from the state directory, once every node serves the current one. */
async function pruneOldCertificates(
  ctx: CertdContext,
  name: string,
  serial: string,
): Promise<void> {
  const dir = certificateDir(ctx.config.certd.state, name);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  await Promise.all(
    entries
      .filter((e) => e.isDirectory() && e.name !== serial)
      .map((e) => rm(`${dir}/${e.name}`, { recursive: true, force: true })),
  );
}

/** Reads `certd.caCert` once (PEM), or null. */
export async function readCaCert(file: string | null): Promise<string | null> {
  return file ? readFile(file, 'utf8') : null;
}
