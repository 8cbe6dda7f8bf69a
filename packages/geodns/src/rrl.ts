import type { RrlConfig } from '@owncdn/core';

/**
 * Response rate limiting against reflection/amplification, in the manner of
 * BIND's RRL and Knot's mod-rrl: identical responses (same answer, same
 * client prefix) beyond `responsesPerSecond` are dropped, except every
 * `slip`-th, which goes out truncated so a real client retries over TCP.
 * A fixed-size hash table of typed arrays: no allocation per query, and a
 * collision only resets a counter (errs towards answering).
 */

export const RRL = { SEND: 0, DROP: 1, SLIP: 2 } as const;
export type RrlAction = (typeof RRL)[keyof typeof RRL];

/** 2^16 buckets: enough for the client prefixes of a busy second on a small authoritative. */
const TABLE_BITS = 16;
const TABLE_SIZE = 1 << TABLE_BITS;

export class RateLimiter {
  readonly #rate: number;
  readonly #slip: number;
  readonly #v4Mask: number;
  readonly #v6HiMask: number;
  readonly #v6LoMask: number;
  readonly #keyA = new Uint32Array(TABLE_SIZE);
  readonly #keyB = new Uint32Array(TABLE_SIZE);
  readonly #keyC = new Uint32Array(TABLE_SIZE);
  readonly #second = new Uint32Array(TABLE_SIZE);
  readonly #count = new Uint32Array(TABLE_SIZE);
  #limited = 0;
  readonly #now: () => number;

  constructor(config: RrlConfig, now: () => number = Date.now) {
    this.#rate = config.responsesPerSecond;
    this.#slip = config.slip;
    this.#v4Mask = prefixMask(config.ipv4PrefixLength);
    this.#v6HiMask = prefixMask(Math.min(config.ipv6PrefixLength, 32));
    this.#v6LoMask = prefixMask(Math.max(config.ipv6PrefixLength - 32, 0));
    this.#now = now;
  }

  /**
   * Decides for one response to `family` client (4 or 6; `hi`/`lo` = the
   * address's first 64 bits, `hi` only for IPv4) of response `responseId`.
   */
  check(family: number, hi: number, lo: number, responseId: number): RrlAction {
    const a = family === 4 ? (hi & this.#v4Mask) >>> 0 : (hi & this.#v6HiMask) >>> 0;
    const b = family === 4 ? 0 : (lo & this.#v6LoMask) >>> 0;
    const c = responseId >>> 0;
    // FNV-1a-style mix of the three words.
    let h = 0x811c9dc5;
    h = Math.imul(h ^ a, 0x01000193);
    h = Math.imul(h ^ b, 0x01000193);
    h = Math.imul(h ^ c, 0x01000193);
    const slot = (h >>> (32 - TABLE_BITS)) & (TABLE_SIZE - 1);
    const second = Math.floor(this.#now() / 1000) >>> 0;
    if (
      this.#keyA[slot] !== a ||
      this.#keyB[slot] !== b ||
      this.#keyC[slot] !== c + 1 ||
      this.#second[slot] !== second
    ) {
      this.#keyA[slot] = a;
      this.#keyB[slot] = b;
      // +1 so an all-zero slot never matches a real key.
      this.#keyC[slot] = c + 1;
      this.#second[slot] = second;
      this.#count[slot] = 0;
    }
    const count = (this.#count[slot] ?? 0) + 1;
    this.#count[slot] = count;
    if (count <= this.#rate) return RRL.SEND;
    this.#limited++;
    return this.#slip > 0 && this.#limited % this.#slip === 0 ? RRL.SLIP : RRL.DROP;
  }
}

function prefixMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}
