import { describe, expect, it } from 'vitest';
import { needsRenewal, renewalTimeByAri, renewalTimeByLifetime, sameNames } from './renew.js';
import { emptyCertificateState } from './state.js';

const DAY = 24 * 3_600_000;

describe('renewal time', () => {
  it('renews a 90-day certificate with a third of its lifetime left (day 60)', () => {
    expect(renewalTimeByLifetime({ notBefore: 0, notAfter: 90 * DAY })).toBe(60 * DAY);
  });
  it('renews certificates of 10 days or less at half their lifetime', () => {
    expect(renewalTimeByLifetime({ notBefore: 0, notAfter: 6 * DAY })).toBe(3 * DAY);
    expect(renewalTimeByLifetime({ notBefore: 0, notAfter: 10 * DAY })).toBe(5 * DAY);
    expect(renewalTimeByLifetime({ notBefore: 0, notAfter: 11 * DAY })).toBe(
      11 * DAY - (11 * DAY) / 3,
    );
  });
  it('picks a time inside the ARI window, from now when the window has begun, and now when it is over', () => {
    expect(renewalTimeByAri({ start: 100, end: 200 }, 0, 0)).toBe(100);
    expect(renewalTimeByAri({ start: 100, end: 200 }, 0, 0.5)).toBe(150);
    expect(renewalTimeByAri({ start: 100, end: 200 }, 150, 0.5)).toBe(175);
    expect(renewalTimeByAri({ start: 100, end: 200 }, 300, 0.5)).toBe(300);
  });
});

describe('needsRenewal', () => {
  const current = {
    serial: '1',
    names: ['a.test', 'b.test'],
    notBefore: 0,
    notAfter: 90 * DAY,
    certId: 'x.y',
    issuedAt: 0,
  };
  it('is true with no certificate, changed names, past renewAt or expiry', () => {
    expect(needsRenewal(emptyCertificateState(), ['a.test'], 0)).toBe(true);
    const state = { ...emptyCertificateState(), current, renewAt: 50 * DAY };
    expect(needsRenewal(state, ['b.test', 'A.test'], 49 * DAY)).toBe(false);
    expect(needsRenewal(state, ['a.test'], 49 * DAY)).toBe(true);
    expect(needsRenewal(state, ['a.test', 'b.test'], 50 * DAY)).toBe(true);
    expect(needsRenewal({ ...state, renewAt: null }, ['a.test', 'b.test'], 59 * DAY)).toBe(false);
    expect(needsRenewal({ ...state, renewAt: 200 * DAY }, ['a.test', 'b.test'], 90 * DAY)).toBe(
      true,
    );
  });
  it('compares names as sets', () => {
    expect(sameNames(['a', 'b'], ['B', 'a', 'a'])).toBe(true);
    expect(sameNames(['a'], ['a', 'b'])).toBe(false);
  });
});
