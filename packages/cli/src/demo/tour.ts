import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { queryA } from './dns-query.js';
import { DEMO_NAME } from './workspace.js';

const run = promisify(execFile);

function hasProgram(name: string): boolean {
  return ['/usr/bin', '/bin', '/usr/local/bin'].some((dir) => existsSync(`${dir}/${name}`));
}

/** Everything the tour needs to know about the running demo. */
export interface TourFacts {
  readonly dnsPort: number;
  readonly apiUrl: string;
  readonly token: string;
  readonly tokenPath: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Pebble's root (PEM path) when certd issued certificates, else null. */
  readonly rootPath: string | null;
  readonly configPath: string;
  readonly siteDir: string;
  /** How to run owncdn from the user's shell, e.g. `node packages/cli/bin/owncdn.js`. */
  readonly owncdn: string;
  /** PID of fr's origin, for the failover hint. */
  readonly frOriginPid: number;
}

/** A path as the user should type it from their current directory. */
export function shellPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || rel === '' ? path : rel;
}

export class Tour {
  readonly #out: NodeJS.WritableStream;
  readonly #facts: TourFacts;
  constructor(out: NodeJS.WritableStream, facts: TourFacts) {
    this.#out = out;
    this.#facts = facts;
  }

  #say(text = ''): void {
    this.#out.write(`${text}\n`);
  }

  #command(command: string, output: string): void {
    this.#say(`  $ ${command}`);
    for (const line of output.trimEnd().split('\n')) this.#say(`    ${line}`);
  }

  async #dig(subnet: string, note: string): Promise<string[]> {
    const f = this.#facts;
    const command = `dig @127.0.0.1 -p ${f.dnsPort} ${DEMO_NAME} +short +subnet=${subnet}`;
    let addresses: string[];
    if (hasProgram('dig')) {
      const { stdout } = await run('dig', [
        '@127.0.0.1',
        '-p',
        String(f.dnsPort),
        DEMO_NAME,
        '+short',
        `+subnet=${subnet}`,
        '+time=2',
        '+tries=1',
      ]);
      addresses = stdout.trim().split('\n').filter(Boolean);
    } else {
      addresses = await queryA('127.0.0.1', f.dnsPort, DEMO_NAME, subnet);
      note += ' (dig is not installed: apt-get install dnsutils; owncdn asked the same question)';
    }
    this.#command(`${command}   # ${note}`, addresses.join('\n') || '(no answer)');
    return addresses;
  }

  async #fetch(address: string): Promise<string> {
    const f = this.#facts;
    const https = f.rootPath !== null;
    const port = https ? f.httpsPort : f.httpPort;
    const url = `${https ? 'https' : 'http'}://${DEMO_NAME}:${port}/`;
    const trust = https && f.rootPath ? ` --cacert ${shellPath(f.rootPath)}` : '';
    const command = `curl -si --resolve ${DEMO_NAME}:${port}:${address}${trust} ${url}`;
    let output: string;
    if (hasProgram('curl')) {
      const args = [
        '-si',
        '--max-time',
        '5',
        '--resolve',
        `${DEMO_NAME}:${port}:${address}`,
        ...(https && f.rootPath ? ['--cacert', f.rootPath] : []),
        url,
      ];
      output = (await run('curl', args)).stdout;
    } else {
      const agent = new Agent({
        connect: {
          servername: DEMO_NAME,
          ...(f.rootPath ? { ca: await readFile(f.rootPath, 'utf8') } : {}),
        },
      });
      try {
        const response = await request(`${https ? 'https' : 'http'}://${address}:${port}/`, {
          dispatcher: agent,
          headers: { host: `${DEMO_NAME}:${port}` },
        });
        const headers = Object.entries(response.headers).map(([k, v]) => `${k}: ${String(v)}`);
        output = [
          `HTTP/1.1 ${response.statusCode}`,
          ...headers,
          '',
          await response.body.text(),
        ].join('\n');
      } finally {
        await agent.close();
      }
      output = `(curl is not installed; owncdn made the same request)\n${output}`;
    }
    // Headers and the first lines of the page are enough to see what happened.
    const lines = output.replace(/\r/g, '').split('\n');
    const blank = lines.indexOf('');
    const shown = lines.slice(0, blank < 0 ? 20 : Math.min(lines.length, blank + 8));
    this.#command(command, [...shown, lines.length > shown.length ? '…' : ''].join('\n'));
    return output;
  }

  async #override(node: string, state: 'down' | null): Promise<void> {
    const f = this.#facts;
    const body = JSON.stringify({ state });
    const response = await request(`${f.apiUrl}/v1/nodes/${node}/override`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${f.token}`, 'content-type': 'application/json' },
      body,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200)
      throw new Error(`geodns API answered ${response.statusCode}: ${text}`);
    const command = `curl -s -o /dev/null -w '%{http_code}\\n' -X PUT -H "Authorization: Bearer $(cat ${shellPath(f.tokenPath)})" -d '${body}' ${f.apiUrl}/v1/nodes/${node}/override`;
    this.#command(command, String(response.statusCode));
  }

  /** Runs the whole tour; each step shows a command the user can paste, with its real output. */
  async run(): Promise<void> {
    const f = this.#facts;
    this.#say(
      '1. GeoDNS sends each visitor to the nearest region, by the client subnet (EDNS Client Subnet):',
    );
    await this.#dig('81.2.69.0/24', 'a visitor in Europe → fr');
    await this.#dig('8.8.8.0/24', 'in North America → us');
    await this.#dig('1.1.1.0/24', 'in Oceania → au');
    this.#say();
    this.#say(
      `2. Each region serves the site from memory${f.rootPath ? ', over HTTPS with a certificate certd got from Pebble' : ''}; x-owncdn-node says which one answered:`,
    );
    await this.#fetch('127.0.0.13');
    this.#say();
    this.#say(
      '3. A region goes down, and its visitors fall back to the default region (au). Draining fr by hand:',
    );
    await this.#override('fr', 'down');
    await this.#dig('81.2.69.0/24', 'Europe now → au');
    await this.#override('fr', null);
    this.#say(
      '   Health checks do the same by themselves: stop an origin (its PID is in the status line below,',
    );
    this.#say(
      '   or in the logs) and within about 2 s (fall 2 × 1 s interval) its address leaves the answers.',
    );
    this.#say();
    this.#say('4. Publish a change to every region at once. Edit the site, then push:');
    this.#say(`  $ $EDITOR ${shellPath(f.siteDir)}/index.html`);
    this.#say(`  $ ${f.owncdn} sync push -c ${shellPath(f.configPath)}`);
    this.#say(
      '   Every node gets the whole release first; then all switch together. Undo it with:',
    );
    this.#say(`  $ ${f.owncdn} sync rollback -c ${shellPath(f.configPath)}`);
    this.#say(`  $ ${f.owncdn} sync status -c ${shellPath(f.configPath)}`);
    if (!f.rootPath) {
      this.#say();
      this.#say(
        "HTTPS: install Debian's pebble (apt-get install pebble), Let's Encrypt's test CA, and run the",
      );
      this.#say('demo again: certd will obtain certificates from it and push them to every node.');
    }
    this.#say();
  }
}
