import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { crypto as acmeCrypto } from 'acme-client';
import { OwncdnError } from '@owncdn/core';
import type { KeyType } from '@owncdn/core';

/** Makes a private key of `type` as PKCS#8 PEM. */
export function createPrivateKey(type: KeyType): string {
  const pair =
    type === 'ec-p256' || type === 'ec-p384'
      ? generateKeyPairSync('ec', { namedCurve: type === 'ec-p256' ? 'P-256' : 'P-384' })
      : generateKeyPairSync('rsa', { modulusLength: type === 'rsa-2048' ? 2048 : 3072 });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A CSR (PEM) for `names` signed with `keyPem`; the first name is the common name. */
export async function createCsr(names: readonly string[], keyPem: string): Promise<string> {
  const [, csr] = await acmeCrypto.createCsr(
    { commonName: names[0], altNames: [...names] },
    keyPem,
  );
  return csr.toString();
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of the account key: the second half of every key authorisation. */
export function jwkThumbprint(privateKeyPem: string): string {
  const jwk = createPublicKey(privateKeyPem).export({ format: 'jwk' });
  const canonical =
    jwk.kty === 'EC'
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
      : JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

export interface CertificateFacts {
  /** Serial in lower-case hex without leading zeros or colons. */
  readonly serial: string;
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  /** RFC 9773 §4.1 certificate identifier. */
  readonly certId: string;
}

/** Reads serial, SANs, validity and the ARI id from the leaf of a PEM chain. */
export function readCertificate(chainPem: string): CertificateFacts {
  const leafPem = chainPem.match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/,
  )?.[0];
  if (!leafPem)
    throw new OwncdnError(
      'OWNCDN_ACME_FAILED',
      'the CA sent a certificate chain without a PEM certificate',
    );
  const leaf = new X509Certificate(leafPem);
  const names = (leaf.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return {
    serial: normaliseSerial(leaf.serialNumber),
    names,
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    certId: certificateId(leaf),
  };
}

/** Serial as compared everywhere: lower-case hex, no leading zeros. */
export function normaliseSerial(hex: string): string {
  return hex
    .toLowerCase()
    .replace(/[^0-9a-f]/g, '')
    .replace(/^0+(?=.)/, '');
}

/**
 * RFC 9773 §4.1: base64url(keyIdentifier of the Authority Key Identifier) "."
 * base64url(DER serial number bytes, with a leading zero when the high bit is set).
 */
export function certificateId(cert: X509Certificate): string {
  const aki = authorityKeyIdentifier(cert.raw);
  let serial = normaliseSerial(cert.serialNumber);
  if (serial.length % 2 === 1) serial = `0${serial}`;
  if (Number.parseInt(serial.slice(0, 2), 16) >= 0x80) serial = `00${serial}`;
  return `${aki.toString('base64url')}.${Buffer.from(serial, 'hex').toString('base64url')}`;
}

/** OID 2.5.29.35 (authorityKeyIdentifier) as DER: 06 03 55 1d 23. */
const AKI_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]);

/** Finds the AKI extension in a DER certificate and returns its keyIdentifier bytes. */
function authorityKeyIdentifier(der: Buffer): Buffer {
  const at = der.indexOf(AKI_OID);
  if (at < 0)
    throw new OwncdnError(
      'OWNCDN_ACME_FAILED',
      'the certificate has no Authority Key Identifier (needed for ARI)',
    );
  let i = at + AKI_OID.length;
  if (der[i] === 0x01) i += 3; // critical BOOLEAN
  // extnValue OCTET STRING { SEQUENCE { [0] keyIdentifier ... } }
  const octet = readTlv(der, i, 0x04);
  const seq = readTlv(der, octet.start, 0x30);
  const keyId = readTlv(der, seq.start, 0x80);
  return der.subarray(keyId.start, keyId.end);
}

function readTlv(der: Buffer, at: number, tag: number): { start: number; end: number } {
  if (der[at] !== tag)
    throw new OwncdnError(
      'OWNCDN_ACME_FAILED',
      'the certificate has a malformed Authority Key Identifier',
    );
  let length = der[at + 1] ?? 0;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let k = 0; k < bytes; k++) length = (length << 8) | (der[start + k] ?? 0);
    start += bytes;
  }
  return { start, end: start + length };
}
