import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OwncdnError, writeFileAtomic } from '@owncdn/core';
import type { CertdConfig, Logger } from '@owncdn/core';
import type { AcmeSession } from './acme.js';
import { createPrivateKey, jwkThumbprint } from './keys.js';
import { ACCOUNT_KEY_FILE } from './state.js';
import type { CertdState } from './state.js';

/**
 * Reads the account key from `<state>/account.key`, or makes an ECDSA P-256
 * one and writes it there atomically with mode 0600. A key found with a
 * looser mode is tightened to 0600 (and a warning logged).
 */
export async function loadAccountKey(
  stateDir: string,
  log: Logger,
): Promise<{ pem: string; created: boolean }> {
  const file = join(stateDir, ACCOUNT_KEY_FILE);
  try {
    const pem = await readFile(file, 'utf8');
    const mode = (await stat(file)).mode & 0o777;
    if (mode !== 0o600) {
      log.warn({ file, mode: mode.toString(8) }, 'account key was readable by others; set to 0600');
      await chmod(file, 0o600);
    }
    return { pem, created: false };
  } catch (error) {
    if (!(
      typeof error === 'object' &&
      error !== null &&
      'code' in error &&
      error.code === 'ENOENT'
    ))
      throw error;
  }
  const pem = createPrivateKey('ec-p256');
  await writeFileAtomic(file, pem, { mode: 0o600, mkdir: true });
  log.info({ file }, 'account key created');
  return { pem, created: true };
}

/** Reads the EAB HMAC key (base64url, as the CA hands it out) from its file. */
export async function readEab(
  config: CertdConfig,
): Promise<{ kid: string; hmacKey: string } | null> {
  if (!config.eab) return null;
  let hmacKey: string;
  try {
    hmacKey = (await readFile(config.eab.hmacFile, 'utf8')).trim();
  } catch (error) {
    throw new OwncdnError(
      'OWNCDN_ACME_FAILED',
      `cannot read the EAB HMAC key file ${config.eab.hmacFile}`,
      { cause: error },
    );
  }
  return { kid: config.eab.kid, hmacKey };
}

/**
 * Makes sure the ACME account exists at the CA and the session uses it.
 * Returns the account URL to keep in the state (only changes on first use or
 * a new directory). Refuses to create an account unless `certd.agreeTerms`.
 */
export async function ensureAccount(
  session: AcmeSession,
  config: CertdConfig,
  state: CertdState,
  log: Logger,
  accountKeyPem: string,
): Promise<{ url: string; directory: string }> {
  if (state.account && state.account.directory === config.directory) return state.account;
  if (!config.agreeTerms) {
    const terms = await session.client.getTermsOfServiceUrl().catch(() => null);
    throw new OwncdnError(
      'OWNCDN_ACME_FAILED',
      `certd needs an ACME account at ${config.directory} and its terms must be agreed first: read ${terms ?? "the CA's terms of service"} and set certd.agreeTerms: true`,
    );
  }
  await session.client.createAccount({
    termsOfServiceAgreed: true,
    ...(config.email ? { contact: [`mailto:${config.email}`] } : {}),
  });
  const url = session.client.getAccountUrl();
  // The thumbprint is public (a hash of the public key): logged so that an admin can place
  // <root>/acme-thumbprint by hand on nodes where certd's user may not write the root.
  log.info(
    { account: url, directory: config.directory, thumbprint: jwkThumbprint(accountKeyPem) },
    'ACME account ready',
  );
  return { url, directory: config.directory };
}
