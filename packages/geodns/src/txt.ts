import { isInZone } from '@owncdn/core';

/**
 * DNS-01 TXT values set through the API: in memory only, each expiring on
 * its own after the configured lifetime (a certd that crashed mid-order
 * leaves nothing behind for long).
 */

/** RFC 8555 §8.4: the challenge record lives at `_acme-challenge.<name>`. */
const CHALLENGE_LABEL = '_acme-challenge.';
/** A key authorization digest is 43 characters; this leaves room and bounds memory. */
const MAX_VALUE_BYTES = 255;
/** Values per name: a certificate with many SANs reuses one name at most a few times. */
const MAX_VALUES_PER_NAME = 32;

export class TxtError extends Error {}

/** Lower-cases and strips the trailing dot; throws TxtError when `fqdn` is not a challenge name inside `zone`. */
export function checkChallengeName(fqdn: string, zone: string): string {
  const name = fqdn.toLowerCase().replace(/\.$/, '');
  if (!name.startsWith(CHALLENGE_LABEL)) {
    throw new TxtError(
      `${JSON.stringify(fqdn)} is not a DNS-01 challenge name (expected _acme-challenge.<name in ${zone}>)`,
    );
  }
  const rest = name.slice(CHALLENGE_LABEL.length);
  if (
    !isInZone(rest, zone) ||
    !/^[a-z0-9_.-]+$/.test(rest) ||
    rest.split('.').some((l) => l.length === 0 || l.length > 63)
  ) {
    throw new TxtError(
      `${JSON.stringify(fqdn)} is outside the zone ${zone} (expected _acme-challenge.<name in ${zone}>)`,
    );
  }
  return name;
}

export class TxtStore {
  readonly #values = new Map<string, Map<string, NodeJS.Timeout>>();
  readonly #onExpire: (name: string) => void;

  /** `onExpire` runs after a value expired and was removed (the caller rebuilds the answers). */
  constructor(onExpire: (name: string) => void) {
    this.#onExpire = onExpire;
  }

  /** Adds `value` at `name` (already checked) for `lifetimeMs`; setting it again restarts its lifetime. */
  add(name: string, value: string, lifetimeMs: number): void {
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES || value.length === 0) {
      throw new TxtError(
        `the TXT value must be 1–${MAX_VALUE_BYTES} bytes (got ${Buffer.byteLength(value)})`,
      );
    }
    let values = this.#values.get(name);
    if (!values) this.#values.set(name, (values = new Map<string, NodeJS.Timeout>()));
    const existing = values.get(value);
    if (existing) clearTimeout(existing);
    else if (values.size >= MAX_VALUES_PER_NAME)
      throw new TxtError(`${name} already has ${MAX_VALUES_PER_NAME} values (delete some first)`);
    const timer = setTimeout(() => {
      if (this.remove(name, value)) this.#onExpire(name);
    }, lifetimeMs);
    timer.unref();
    values.set(value, timer);
  }

  /** Removes one value, or every value at `name` when `value` is null. True when something was removed. */
  remove(name: string, value: string | null): boolean {
    const values = this.#values.get(name);
    if (!values) return false;
    let removed = false;
    for (const [v, timer] of values) {
      if (value !== null && v !== value) continue;
      clearTimeout(timer);
      values.delete(v);
      removed = true;
    }
    if (values.size === 0) this.#values.delete(name);
    return removed;
  }

  /** Owner → values, for the snapshot. */
  entries(): Map<string, string[]> {
    return new Map([...this.#values].map(([name, values]) => [name, [...values.keys()]]));
  }

  get size(): number {
    let n = 0;
    for (const values of this.#values.values()) n += values.size;
    return n;
  }

  clear(): void {
    for (const values of this.#values.values())
      for (const timer of values.values()) clearTimeout(timer);
    this.#values.clear();
  }
}
