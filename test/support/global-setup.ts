import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Builds dist/ and the bundled program (scripts/build.mjs; about two seconds
 * when up to date) so tests that spawn `owncdn` run current code. OWNCDN_TEST_SKIP_BUILD=1 skips it, for a
 * quick run of tests that spawn nothing while another package does not build.
 */
export function setup(): () => void {
  // Caches (sync's digests) go to a directory of the run's own, not the user's ~/.cache.
  const cache = mkdtempSync(join(tmpdir(), 'owncdn-test-cache-'));
  process.env.XDG_CACHE_HOME = cache;
  const teardown = () => rmSync(cache, { recursive: true, force: true });
  if (process.env.OWNCDN_TEST_SKIP_BUILD === '1') return teardown;
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  return teardown;
}
