import { execFile } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../test/support/tmp.js';
import {
  certificateId,
  createCsr,
  createPrivateKey,
  jwkThumbprint,
  normaliseSerial,
  readCertificate,
} from './keys.js';

const run = promisify(execFile);

describe('certificateId (RFC 9773 §4.1)', () => {
  it('matches the RFC example: AKI 69:88:5B… and serial 0x87654321 (a leading zero added for the high bit)', async () => {
    const dir = await makeTempDir();
    const cert = join(dir, 'c.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'k.pem'),
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=t',
      '-set_serial',
      '0x87654321',
      '-addext',
      'subjectKeyIdentifier=69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4',
      '-addext',
      'authorityKeyIdentifier=keyid:always',
    ]);
    const pem = await readFile(cert, 'utf8');
    expect(certificateId(new X509Certificate(pem))).toBe('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    expect(readCertificate(pem)).toMatchObject({
      serial: '87654321',
      certId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
      names: [],
    });
  });
});

describe('keys', () => {
  it.each([
    ['ec-p256', 'ec', { namedCurve: 'prime256v1' }],
    ['ec-p384', 'ec', { namedCurve: 'secp384r1' }],
    ['rsa-2048', 'rsa', { modulusLength: 2048 }],
  ] as const)('makes %s keys and a CSR for them', async (type, kind, details) => {
    const pem = createPrivateKey(type);
    const key = createPublicKey(pem);
    expect(key.asymmetricKeyType).toBe(kind);
    expect(key.asymmetricKeyDetails).toMatchObject(details);
    const csr = await createCsr(['example.test', 'www.example.test'], pem);
    expect(csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
  });

  it('computes the RFC 7638 thumbprint (the RFC §3.1 example key)', () => {
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    const pem = createPublicKey({ key: { kty: 'RSA', n, e: 'AQAB' }, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    expect(jwkThumbprint(pem)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    const ec = createPrivateKey('ec-p256');
    expect(jwkThumbprint(ec)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(jwkThumbprint(ec)).not.toBe(jwkThumbprint(createPrivateKey('ec-p256')));
  });

  it('normalises serials', () => {
    expect(normaliseSerial('00:8A:BC')).toBe('8abc');
    expect(normaliseSerial('0')).toBe('0');
  });
});
