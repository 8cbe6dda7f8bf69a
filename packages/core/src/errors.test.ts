import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ERROR_CODES, formatConfigIssue, OwncdnError } from './errors.js';

describe('errors', () => {
  it('documents every code in docs/errors.md, and no other', async () => {
    const doc = await readFile(join(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `(OWNCDN_[A-Z0-9_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODES].sort());
  });

  it('keeps the code, the cause and retryability', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new OwncdnError('OWNCDN_SSH_UNREACHABLE', 'connect to fr failed', {
      cause,
      retryable: true,
    });
    expect(error).toMatchObject({
      name: 'OwncdnError',
      code: 'OWNCDN_SSH_UNREACHABLE',
      retryable: true,
      cause,
    });
  });

  it('formats config issues with file, line and path', () => {
    const issues = [
      {
        file: 'owncdn.yaml',
        line: 14,
        path: 'nodes[1].continents[0]',
        message: '"EUR" is not a continent code',
      },
      { file: 'owncdn.yaml', line: 0, path: '', message: 'is empty' },
    ];
    expect(issues.map(formatConfigIssue)).toEqual([
      'owncdn.yaml:14 nodes[1].continents[0]: "EUR" is not a continent code',
      'owncdn.yaml: is empty',
    ]);
    const error = new ConfigError(issues);
    expect(error).toMatchObject({ name: 'ConfigError', code: 'OWNCDN_CONFIG_INVALID', issues });
    expect(error.message.split('\n')).toHaveLength(2);
  });
});
