import { describe, expect, it } from 'vitest';
import type { Certificate } from './tls.js';
import { pickCertificate } from './tls.js';

const cert = (name: string, names: string[]): Certificate =>
  ({
    name,
    names,
    notAfter: '',
    serial: '',
    dir: '',
    cert: '',
    key: '',
    context: {},
  }) as unknown as Certificate;

describe('pickCertificate', () => {
  const site = cert('site', ['example.test', 'www.example.test']);
  const wild = cert('wild', ['*.example.test']);
  const other = cert('other', ['other.test']);
  const all = [site, wild, other];

  it.each([
    ['example.test', 'site'],
    ['WWW.Example.Test', 'site'],
    ['blog.example.test', 'wild'],
    ['other.test', 'other'],
    // A wildcard covers one label only (RFC 6125 §6.4.3); anything else gets the default.
    ['a.b.example.test', 'site'],
    ['example.test.evil', 'site'],
    ['unknown.test', 'site'],
  ])('%s → %s', (servername, expected) => {
    expect(pickCertificate(all, servername)?.name).toBe(expected);
  });

  it('prefers an exact name over a wildcard listed first', () => {
    expect(pickCertificate([wild, site], 'www.example.test')?.name).toBe('site');
  });

  it('has nothing to offer without certificates', () => {
    expect(pickCertificate([], 'example.test')).toBeUndefined();
  });
});
