import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAlive, startDaemon } from '../../../test/support/process.js';
import { servedSerial } from '../src/deploy.js';
import { readState, runCertdOnce } from '../src/index.js';
import {
  NODE_ADDRESSES,
  labConfig,
  makeLabDirs,
  memoryLogger,
  startLab,
  startOrigins,
  testOptions,
} from './helpers.js';

const OWNCDN = fileURLToPath(new URL('../../cli/bin/owncdn.js', import.meta.url));

function owncdn(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OWNCDN, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Resolves with the content of `file` once a whole line is written to it. */
async function waitForFile(file: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return text;
    if (Date.now() > deadline) throw new Error(`${file} was not written within ${timeoutMs} ms`);
    // Polled: an fs.watch event fired between a read and re-arming a
    // one-shot listener is lost, and the wait would never end.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('owncdn certd', () => {
  it('status prints the table and exits 0 when every node serves the current certificate, 1 otherwise', async () => {
    const lab = await startLab();
    const config = await labConfig(lab);
    const origins = await startOrigins(config);

    const before = await owncdn(['certd', 'status', '-c', config.file]);
    expect(before.code).toBe(1);
    expect(before.stdout).toContain('problem: example.test: not issued yet');

    expect((await runCertdOnce(config, testOptions(memoryLogger().log))).ok).toBe(true);
    const state = (await readState(lab.stateDir)).certificates['example.test'];
    const ok = await owncdn(['certd', 'status', '-c', config.file]);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    const expires = new Date(state?.current?.notAfter ?? 0).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const renews = new Date(state?.renewAt ?? 0).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(ok.stdout).toBe(
      `NAME          EXPIRES               RENEWS                NODES UP TO DATE\n` +
        `example.test  ${expires}  ${renews}  3/3 (au us fr)\n`,
    );

    await origins.get('fr')?.close();
    const down = await owncdn(['certd', 'status', '-c', config.file]);
    expect(down.code).toBe(1);
    expect(down.stdout).toContain('2/3 (au us fr✗)');
    expect(down.stdout).toMatch(
      /problem: example\.test: node fr serves no certificate \(connect ECONNREFUSED 127\.0\.0\.13:\d+\)\n$/,
    );
  });

  it('--once exits 1 naming the certificate and the reason when the CA cannot be reached', async () => {
    const config = await labConfig(await makeLabDirs());
    const result = await owncdn(['certd', '--once', '-c', config.file, '--log-level', 'silent']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^owncdn: certd pass incomplete: example\.test: ACME server unreachable: GET https:\/\/127\.0\.0\.1:9\/dir failed: .*ECONNREFUSED.*\n$/,
    );
  });

  it('status exits 1 for a certificate within 7 days of expiry', async () => {
    const lab = await startLab({ pebble: { certValiditySeconds: 6 * 24 * 3600 } });
    const config = await labConfig(lab);
    await startOrigins(config);
    expect((await runCertdOnce(config, testOptions(memoryLogger().log))).ok).toBe(true);
    const status = await owncdn(['certd', 'status', '-c', config.file]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(
      /3\/3 \(au us fr\)\nproblem: example\.test: expires \S+, within 7 days\n$/,
    );
  });

  it('--once after a kill -9 right after the order was created resumes that order', async () => {
    const lab = await startLab();
    const config = await labConfig(lab);
    await startOrigins(config);
    const first = await startDaemon(
      process.execPath,
      [OWNCDN, 'certd', '--once', '-c', config.file, '--log-format', 'json'],
      {
        ready: /"msg":"order created"/,
        readyTimeoutMs: 30_000,
      },
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    const order = (await readState(lab.stateDir)).certificates['example.test']?.order?.url;
    expect(order).toMatch(/\/my-order\//);

    const second = await owncdn(['certd', '--once', '-c', config.file, '--log-format', 'json']);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`"order":"${order ?? ''}"`);
    expect(second.stderr).toMatch(/"msg":"resuming in-flight order"/);
    expect(second.stderr).not.toContain('"msg":"order created"');
    const state = (await readState(lab.stateDir)).certificates['example.test'];
    expect(state?.order).toBe(null);
    for (const address of NODE_ADDRESSES) {
      expect((await servedSerial(address, lab.httpsPort, 'example.test', 2_000)).serial).toBe(
        state?.current?.serial,
      );
    }
  });

  it('--once after a kill -9 in the middle of a deploy completes it without a new order', async () => {
    const lab = await startLab();
    const pidFile = join(lab.dir, 'post-deploy.pid');
    // fr's post-deploy command hangs, so certd is killed while deploying to fr.
    const hanging = await labConfig(lab, {
      nodes: (i) => (i === 2 ? `    postDeploy: "echo $$ > ${pidFile}; exec sleep 60"\n` : ''),
    });
    const config = await labConfig(lab);
    // Real origin processes, as on the nodes.
    for (const node of ['au', 'us', 'fr']) {
      await startDaemon(
        process.execPath,
        [
          OWNCDN,
          'origin',
          '--node',
          node,
          '--workers',
          '1',
          '-c',
          config.file,
          '--log-format',
          'json',
        ],
        {
          ready: /"msg":"origin listening"/,
        },
      );
    }
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: undefined };
    const first = await startDaemon(
      process.execPath,
      [OWNCDN, 'certd', '--once', '-c', hanging.file, '--log-format', 'json'],
      {
        env,
        ready: /"node":"fr".*"msg":"running post-deploy command"/,
        readyTimeoutMs: 30_000,
      },
    );
    const sleeper = Number((await waitForFile(pidFile)).trim());
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(null);
    if (isAlive(sleeper)) process.kill(sleeper, 'SIGKILL');

    const state = (await readState(lab.stateDir)).certificates['example.test'];
    const serial = state?.current?.serial;
    expect(serial).toMatch(/^[0-9a-f]+$/);
    expect(state?.order).toBe(null);
    expect(state?.nodes.fr?.serial ?? null).toBe(null);

    const second = await owncdn(['certd', '--once', '-c', config.file, '--log-format', 'json']);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('order created');
    expect(second.stderr).toMatch(/"node":"fr".*"msg":"certificate live on node"/);
    for (const address of NODE_ADDRESSES)
      expect((await servedSerial(address, lab.httpsPort, 'example.test', 2_000)).serial).toBe(
        serial,
      );
    expect((await readState(lab.stateDir)).certificates['example.test']?.nodes.fr?.serial).toBe(
      serial,
    );
  });
});
