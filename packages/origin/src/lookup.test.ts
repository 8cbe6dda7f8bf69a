import { describe, expect, it } from 'vitest';
import { lookupKey, queryOf } from './lookup.js';

describe('lookupKey', () => {
  it.each([
    ['/', '/'],
    ['/about', '/about'],
    ['/about?x=1#y', '/about'],
    ['/a#frag', '/a'],
    ['/a%20b.txt', '/a b.txt'],
    ['/%C3%BC', '/ü'],
    ['/%252e%252e/x', '/%2e%2e/x'],
    ['/.well-known/acme-challenge/abc', '/.well-known/acme-challenge/abc'],
    ['/.env', '/.env'],
    ['/a..b/c...', '/a..b/c...'],
  ])('%s → %s', (target, key) => {
    expect(lookupKey(target)).toBe(key);
  });

  it.each([
    'about',
    '*',
    'http://example.test/',
    '/../x',
    '/a/..',
    '/a/./b',
    '/.',
    '/%2e%2e/x',
    '/%2E%2e%2fx',
    '/a%5cb',
    '/a\\b',
    '/a%00b',
    '/%c0%ae',
    '/%e0%80%ae',
    '/%',
    '/%zz',
  ])('refuses %s', (target) => {
    expect(lookupKey(target)).toBeNull();
  });

  it('keeps the query for redirects', () => {
    expect(queryOf('/docs?x=1&y=2')).toBe('?x=1&y=2');
    expect(queryOf('/docs')).toBe('');
  });
});
