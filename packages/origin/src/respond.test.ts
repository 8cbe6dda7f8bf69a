import { describe, expect, it } from 'vitest';
import { ACCEPT_BR, ACCEPT_GZIP, PREFER_GZIP, parseAcceptEncoding } from './encoding.js';
import { isFingerprinted } from './headers.js';
import { parseRange } from './respond.js';

describe('parseRange', () => {
  it.each([
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=2-4', 10, { start: 2, end: 4 }],
    ['bytes=2-', 10, { start: 2, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    ['bytes=-30', 10, { start: 0, end: 9 }],
    ['bytes=5-99', 10, { start: 5, end: 9 }],
    ['bytes= 1-2 ', 10, { start: 1, end: 2 }],
  ])('%s of %i bytes', (header, size, span) => {
    expect(parseRange(header, size)).toEqual(span);
  });

  it.each([
    ['bytes=10-', 10],
    ['bytes=10-20', 10],
    ['bytes=-0', 10],
    ['bytes=0-', 0],
    ['bytes=-1', 0],
  ])('%s of %i bytes is unsatisfiable', (header, size) => {
    expect(parseRange(header, size)).toBe(-1);
  });

  it.each([
    'bytes=0-1,3-4',
    'lines=0-1',
    'bytes=5-2',
    'bytes=a-b',
    'bytes=1',
    'bytes=-',
    'bytes=--1',
    'bytes=1-2-3',
  ])('ignores %s (whole file)', (header) => {
    expect(parseRange(header, 10)).toBeNull();
  });
});

describe('parseAcceptEncoding', () => {
  it.each([
    ['gzip, deflate, br', ACCEPT_BR | ACCEPT_GZIP],
    ['gzip, deflate, br, zstd', ACCEPT_BR | ACCEPT_GZIP],
    ['br;q=0.5, gzip', ACCEPT_BR | ACCEPT_GZIP | PREFER_GZIP],
    ['gzip;q=1.0, br;q=1.0', ACCEPT_BR | ACCEPT_GZIP],
    ['gzip', ACCEPT_GZIP | PREFER_GZIP],
    ['x-gzip', ACCEPT_GZIP | PREFER_GZIP],
    ['br', ACCEPT_BR],
    ['*', ACCEPT_BR | ACCEPT_GZIP],
    ['*;q=0.1, br;q=0', ACCEPT_GZIP | PREFER_GZIP],
    ['identity', 0],
    ['br;q=0, gzip;q=0', 0],
    ['gzip;q=2', 0],
    ['GZIP ; Q=0.8', ACCEPT_GZIP | PREFER_GZIP],
    ['', 0],
  ])('%j → %i', (header, bits) => {
    expect(parseAcceptEncoding(header)).toBe(bits);
  });
});

describe('isFingerprinted', () => {
  it.each([
    ['/app.3f9a2c1e.js', true],
    ['/assets/index-BxK3dM2a.css', true],
    ['/chunk.a1b2c3d4e5.mjs', true],
    ['/app.js', false],
    ['/my-article.html', false],
    ['/assets/logo-abcdefgh.svg', false],
    ['/photo.jpg', false],
  ])('%s → %s', (path, expected) => {
    expect(isFingerprinted(path)).toBe(expected);
  });
});
