import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Authorization, Order } from 'acme-client';
import { OwncdnError, writeFileAtomic } from '@owncdn/core';
import type { CertificateConfig } from '@owncdn/core';
import { AcmeError } from './acme.js';
import type { AcmeSession } from './acme.js';
import { describeError } from './context.js';
import type { CertdContext } from './context.js';
import type { ChallengeSolver, PendingChallenge } from './http01.js';
import { createCsr, createPrivateKey, readCertificate } from './keys.js';
import type { CertificateState, InFlightOrder } from './state.js';

/** Where certd keeps certificate `name`'s files inside its state directory. */
export function certificateDir(stateDir: string, name: string): string {
  return join(stateDir, 'certs', name);
}

/** The PEM files of an issued certificate, by serial. */
export function certificateFiles(
  stateDir: string,
  name: string,
  serial: string,
): { fullchain: string; privkey: string } {
  const dir = join(certificateDir(stateDir, name), serial);
  return { fullchain: join(dir, 'fullchain.pem'), privkey: join(dir, 'privkey.pem') };
}

export interface ObtainOptions {
  readonly session: AcmeSession;
  readonly cert: CertificateConfig;
  readonly state: CertificateState;
  /** Persists this certificate's state (the whole state file, atomically). */
  save(state: CertificateState): Promise<CertificateState>;
  solver(type: 'http-01' | 'dns-01'): ChallengeSolver;
  /** ARI certificate id of the certificate being replaced, when the CA has ARI. */
  readonly replaces: string | null;
  /** Profile to request (already checked against the CA's list), or null. */
  readonly profile: string | null;
}

/**
 * Obtains a certificate for `cert`: resumes the in-flight order if there is
 * one, otherwise creates an order (persisted at once, so a crash resumes it);
 * prepares and checks every challenge on every node or nameserver before
 * telling the CA; finalises with a fresh key (or the current one with
 * `reuseKey`); stores the chain and key in the state directory. Returns the
 * new state; the nodes are deployed separately.
 */
export async function obtainCertificate(
  ctx: CertdContext,
  options: ObtainOptions,
): Promise<CertificateState> {
  const { session, cert } = options;
  const client = session.client;
  const stateDir = ctx.config.certd.state;
  let state = options.state;
  let order: Order | null = null;

  if (state.order) {
    order = await resumeOrder(ctx, session, state.order);
    if (!order) state = await options.save({ ...state, order: null });
  }
  if (!order || !state.order) {
    const keyFile = join(certificateDir(stateDir, cert.name), 'pending-key.pem');
    const keyPem =
      ctx.config.certd.reuseKey && state.current
        ? await readCurrentKey(stateDir, cert.name, state)
        : createPrivateKey(cert.keyType);
    await writeFileAtomic(keyFile, keyPem, { mode: 0o600, mkdir: true });
    const request = {
      identifiers: cert.names.map((value) => ({ type: 'dns', value })),
      ...(options.profile ? { profile: options.profile } : {}),
      ...(options.replaces ? { replaces: options.replaces } : {}),
    };
    order = await client.createOrder(request);
    const inFlight: InFlightOrder = {
      url: order.url,
      startedAt: ctx.now(),
      keyFile,
      replaces: options.replaces,
    };
    state = await options.save({ ...state, order: inFlight });
    ctx.log.info(
      {
        cert: cert.name,
        order: order.url,
        names: cert.names,
        replaces: options.replaces,
        profile: options.profile,
      },
      'order created',
    );
  }
  const inFlight = state.order;
  if (!inFlight) throw new OwncdnError('OWNCDN_INTERNAL', 'order state lost');

  if (order.status === 'pending') await authorize(ctx, options, order, cert);
  if (order.status !== 'valid') {
    order = await waitFor(session, order, `order for ${cert.name}`);
  }
  if (order.status === 'ready') {
    const keyPem = await readFile(inFlight.keyFile, 'utf8');
    order = await client.finalizeOrder(order, await createCsr(cert.names, keyPem));
    if (order.status !== 'valid') order = await waitFor(session, order, `order for ${cert.name}`);
  }
  const chain = await client.getCertificate(order);
  const facts = readCertificate(chain);
  const files = certificateFiles(stateDir, cert.name, facts.serial);
  await writeFileAtomic(files.privkey, await readFile(inFlight.keyFile, 'utf8'), {
    mode: 0o600,
    mkdir: true,
  });
  await writeFileAtomic(files.fullchain, chain, { mode: 0o644, mkdir: true });
  const next = await options.save({
    ...state,
    current: { ...facts, issuedAt: ctx.now() },
    renewAt: null,
    ariCheckedUntil: null,
    order: null,
    failures: 0,
    retryAt: null,
    lastError: null,
  });
  await rm(inFlight.keyFile, { force: true });
  ctx.log.info(
    {
      cert: cert.name,
      serial: facts.serial,
      notAfter: new Date(facts.notAfter).toISOString(),
      names: facts.names,
    },
    'certificate issued',
  );
  return next;
}

/** Fetches a persisted order; null when it is gone or failed (so a new one is created). */
async function resumeOrder(
  ctx: CertdContext,
  session: AcmeSession,
  inFlight: InFlightOrder,
): Promise<Order | null> {
  try {
    const order = await session.client.getOrder({
      url: inFlight.url,
      status: 'pending',
      identifiers: [],
      authorizations: [],
      finalize: '',
    });
    if (order.status === 'invalid') {
      ctx.log.warn({ order: inFlight.url }, 'in-flight order is invalid; ordering again');
      return null;
    }
    ctx.log.info({ order: inFlight.url, status: order.status }, 'resuming in-flight order');
    return order;
  } catch (error) {
    if (error instanceof AcmeError && !error.retryable) {
      ctx.log.warn(
        { order: inFlight.url, err: describeError(error) },
        'in-flight order is gone; ordering again',
      );
      return null;
    }
    throw error;
  }
}

async function authorize(
  ctx: CertdContext,
  options: ObtainOptions,
  order: Order,
  cert: CertificateConfig,
): Promise<void> {
  const client = options.session.client;
  const authorizations = (await client.getAuthorizations(order)).filter(
    (a) => a.status === 'pending',
  );
  if (authorizations.length === 0) return;
  const type = cert.challenge;
  const pending: { authz: Authorization; url: string; challenge: PendingChallenge }[] = [];
  for (const authz of authorizations) {
    const challenge = authz.challenges.find((c) => c.type === type);
    if (!challenge) {
      throw new OwncdnError(
        'OWNCDN_ACME_CHALLENGE_FAILED',
        `the CA offers no ${type} challenge for ${authz.identifier.value}`,
      );
    }
    const name = authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
    pending.push({
      authz,
      url: challenge.url,
      challenge: {
        name,
        token: challenge.token,
        keyAuthorization: await client.getChallengeKeyAuthorization(challenge),
      },
    });
  }
  const solver = options.solver(type);
  const challenges = pending.map((p) => p.challenge);
  try {
    await solver.prepare(challenges);
    ctx.log.info(
      { cert: cert.name, challenge: type, names: challenges.map((c) => c.name) },
      'challenges ready on every node; asking the CA',
    );
    await Promise.all(
      pending.map(async (p) => {
        const challenge = p.authz.challenges.find((c) => c.url === p.url);
        if (challenge) await client.completeChallenge(challenge);
      }),
    );
    await Promise.all(
      pending.map((p) => waitFor(options.session, p.authz, `authorisation of ${p.challenge.name}`)),
    );
  } finally {
    await solver.cleanup(challenges);
  }
}

/** acme-client's status poll, with certd's short backoff and its failure turned into a named error. */
async function waitFor<T extends Order | Authorization>(
  session: AcmeSession,
  item: T,
  what: string,
): Promise<T> {
  try {
    // acme-client returns the fetched object without the `url` it was given.
    return { ...(await session.client.waitForValidStatus(item)), url: item.url };
  } catch (error) {
    if (error instanceof OwncdnError) throw error;
    throw new OwncdnError(
      'OWNCDN_ACME_CHALLENGE_FAILED',
      `the CA did not validate the ${what}: ${describeError(error)}`,
      {
        cause: error,
        retryable: true,
      },
    );
  }
}

async function readCurrentKey(
  stateDir: string,
  name: string,
  state: CertificateState,
): Promise<string> {
  if (!state.current)
    throw new OwncdnError('OWNCDN_INTERNAL', 'no current certificate to reuse the key of');
  return readFile(certificateFiles(stateDir, name, state.current.serial).privkey, 'utf8');
}
