import { Writable } from 'node:stream';
import { createLogger } from '../../packages/core/src/log.js';
import type { Logger } from '../../packages/core/src/log.js';

/** A logger writing JSON lines into memory, to assert on events and on secrets never appearing. */
export function memoryLogger(level: 'debug' | 'info' = 'debug'): {
  log: Logger;
  text(): string;
  lines(): Record<string, unknown>[];
} {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  const log = createLogger({ level, destination });
  return {
    log,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line): Record<string, unknown> => {
          const parsed: unknown = JSON.parse(line);
          return typeof parsed === 'object' && parsed !== null ? { ...parsed } : {};
        }),
  };
}
