/** Counters one serving process keeps; /metrics sums them over workers. */
export interface Counters {
  /** Responses by status class: index 1 = 1xx … 5 = 5xx. */
  readonly responses: number[];
  /** Body bytes sent. */
  bytesOut: number;
  reloads: number;
  reloadFailures: number;
  certificateReloads: number;
}

export function createCounters(): Counters {
  return {
    responses: [0, 0, 0, 0, 0, 0],
    bytesOut: 0,
    reloads: 0,
    reloadFailures: 0,
    certificateReloads: 0,
  };
}

/** Adds `from` into `into` (for summing workers). */
export function addCounters(into: Counters, from: Counters): void {
  for (let i = 0; i < into.responses.length; i++)
    into.responses[i] = (into.responses[i] ?? 0) + (from.responses[i] ?? 0);
  into.bytesOut += from.bytesOut;
  into.reloads += from.reloads;
  into.reloadFailures += from.reloadFailures;
  into.certificateReloads += from.certificateReloads;
}

/** Records one response: its status class and body length. */
export function countResponse(counters: Counters, status: number, bytes: number): void {
  const index = (status / 100) | 0;
  counters.responses[index] = (counters.responses[index] ?? 0) + 1;
  counters.bytesOut += bytes;
}
