import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, parseDuration, parseSize } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['7d', 604_800_000],
    [' 3s ', 3_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '10', '10x', 's', '1h 30m', '-5s', '10sx'])('rejects %j', (text) =>
    expect(parseDuration(text)).toBeNull(),
  );
});

describe('parseSize', () => {
  it.each([
    ['8MiB', 8_388_608],
    ['512KiB', 524_288],
    ['64kb', 64_000],
    ['1024', 1024],
    ['1 GiB', 1_073_741_824],
  ])('%s is %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', 'MiB', '8 parsecs', '-1KiB'])('rejects %j', (text) =>
    expect(parseSize(text)).toBeNull(),
  );
});

describe('formatting', () => {
  it('formats durations and sizes for people', () => {
    expect([950, 12_000, 200_000, 18_000_000, 190_800_000].map(formatDuration)).toEqual([
      '950ms',
      '12s',
      '3m20s',
      '5h',
      '2d5h',
    ]);
    expect([512, 4096, 12_900_000].map(formatBytes)).toEqual(['512 B', '4.0 KiB', '12.3 MiB']);
  });
});
