import { readState, writeState, emptyCertificateState } from './state.js';
import type { CertdState, CertificateState } from './state.js';

/**
 * The state file and the one copy of it in memory. Updates are applied in
 * order and each is written atomically before the next, so concurrent node
 * deploys never lose each other's results and a crash loses nothing written.
 */
export class StateStore {
  readonly #dir: string;
  #state: CertdState;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, state: CertdState) {
    this.#dir = dir;
    this.#state = state;
  }

  /** Reads `<dir>/state.json` (throws OWNCDN_ACME_STATE_CORRUPT on a bad file). */
  static async open(dir: string): Promise<StateStore> {
    return new StateStore(dir, await readState(dir));
  }

  get state(): CertdState {
    return this.#state;
  }

  certificate(name: string): CertificateState {
    return this.#state.certificates[name] ?? emptyCertificateState();
  }

  /** Applies `fn` to the whole state and writes it; resolves with the new state. */
  update(fn: (state: CertdState) => CertdState): Promise<CertdState> {
    const next = this.#queue.then(async () => {
      const updated = fn(this.#state);
      await writeState(this.#dir, updated);
      this.#state = updated;
      return updated;
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Applies `fn` to one certificate's state and writes the file. */
  async updateCertificate(
    name: string,
    fn: (cert: CertificateState) => CertificateState,
  ): Promise<CertificateState> {
    const state = await this.update((s) => ({
      ...s,
      certificates: {
        ...s.certificates,
        [name]: fn(s.certificates[name] ?? emptyCertificateState()),
      },
    }));
    return state.certificates[name] ?? emptyCertificateState();
  }
}
