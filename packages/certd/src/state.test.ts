import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../test/support/tmp.js';
import { parseRenewalInfo, parseRetryAfter } from './acme.js';
import { emptyCertificateState, parseState, readState, writeState } from './state.js';

describe('state file', () => {
  it('round-trips through an atomic write and reads an absent file as empty', async () => {
    const dir = await makeTempDir();
    expect(await readState(dir)).toEqual({ version: 1, account: null, certificates: {} });
    const state = {
      version: 1 as const,
      account: { url: 'https://ca/acct/1', directory: 'https://ca/dir' },
      certificates: {
        'example.test': {
          ...emptyCertificateState(),
          failures: 2,
          retryAt: 5,
          nodes: { au: { serial: 'ab', verifiedAt: 3, error: null } },
        },
      },
    };
    await writeState(dir, state);
    expect(await readState(dir)).toEqual(state);
  });

  it('names the bad field of a corrupt file', async () => {
    const dir = await makeTempDir();
    await writeFile(
      join(dir, 'state.json'),
      '{"version":1,"certificates":{"a":{"current":{"serial":5}}}}',
    );
    await expect(readState(dir)).rejects.toMatchObject({
      code: 'OWNCDN_ACME_STATE_CORRUPT',
      message: `certd state ${join(dir, 'state.json')} is unreadable: certificates.a.current.serial is not a string (move it aside to start over; the account key stays in account.key)`,
    });
    await writeFile(join(dir, 'state.json'), '{"version":1,');
    await expect(readState(dir)).rejects.toMatchObject({
      message: expect.stringContaining('is unreadable: not JSON'),
    });
    expect(() => parseState({ version: 2 }, 'f')).toThrow(
      'certd state f is unreadable: version is 2 (expected 1)',
    );
  });
});

describe('ACME response parsing', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:01:00 GMT', 0)).toBe(60_000);
    expect(parseRetryAfter(undefined)).toBe(null);
    expect(parseRetryAfter('soon')).toBe(null);
  });
  it('reads a renewalInfo window and rejects a malformed one', () => {
    expect(
      parseRenewalInfo(
        { suggestedWindow: { start: '1970-01-01T00:00:01Z', end: '1970-01-01T00:00:02Z' } },
        '10',
        0,
      ),
    ).toEqual({
      start: 1000,
      end: 2000,
      retryAt: 10_000,
      explanationUrl: null,
    });
    expect(() => parseRenewalInfo({ suggestedWindow: { start: 'x' } }, undefined)).toThrow(
      'the CA sent a renewalInfo without a valid suggestedWindow',
    );
  });
});
