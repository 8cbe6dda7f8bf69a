import { mkdir, symlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseConfig } from '@owncdn/core';
import { describe, expect, it } from 'vitest';
import { makeTempDir, writeTree } from '../../../test/support/tmp.js';
import { makeNodeRoot, nodeConfig, rawRequest, serveNode, start, statusOf } from './helpers.js';

const SECRET = 'TOP-SECRET-CONTENT';

/**
 * /srv/www is served; /srv/www-old (a sibling with the same prefix) and
 * /srv/outside hold secrets; www holds dotfiles and symlinks leading out.
 */
async function serveTrap(origin = '') {
  const srv = await makeTempDir('owncdn-trap-');
  const www = join(srv, 'www');
  await writeTree(www, {
    'index.html': '<h1>public</h1>',
    'sub/page.html': 'page',
    '.env': SECRET,
    '.git/config': SECRET,
    'sub/.hidden': SECRET,
    '.well-known/security.txt': 'Contact: mailto:security@example.test',
  });
  await writeTree(join(srv, 'www-old'), { 'secret.txt': SECRET });
  await writeTree(join(srv, 'outside'), { 'secret.txt': SECRET });
  await symlink(join(srv, 'outside', 'secret.txt'), join(www, 'escape.txt'));
  await symlink('../www-old', join(www, 'old'));
  await symlink('sub/page.html', join(www, 'inside.html'));
  await mkdir(join(www, 'empty'));
  const config = parseConfig(
    `site: { domain: example.test }
nodes: [{ name: au, ipv4: 127.0.0.1, continents: [OC], default: true, root: /tmp }]
origin: { maxHeaderSize: 4KiB, maxUrlLength: 1KiB${origin} }
dns: { nameservers: [{ name: ns1.example.test, ipv4: 127.0.0.1 }] }
`,
    '/tmp/owncdn.yaml',
  );
  const served = await start({ dir: www, listen: '127.0.0.1:0', workers: 1, config });
  return served.address.http[0] ?? '';
}

const get = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nHost: example.test\r\n${extra}Connection: close\r\n\r\n`;

describe('attacks sent raw over node:net', () => {
  it('never leaves the root, whatever the spelling', async () => {
    const address = await serveTrap();
    const attacks: [string, number][] = [
      ['/../www-old/secret.txt', 400],
      ['/sub/../../www-old/secret.txt', 400],
      ['/%2e%2e/www-old/secret.txt', 400],
      ['/%2E%2E%2Fwww-old%2Fsecret.txt', 400],
      ['/sub/%2e%2e/%2e%2e/outside/secret.txt', 400],
      ['/%252e%252e/www-old/secret.txt', 404],
      ['/..%5cwww-old%5csecret.txt', 400],
      ['/%5c..%5c..%5coutside%5csecret.txt', 400],
      ['/index.html%00.txt', 400],
      ['/%00', 400],
      ['/%c0%ae%c0%ae/www-old/secret.txt', 400],
      ['/%e0%80%ae%e0%80%ae/www-old/secret.txt', 400],
      ['/%', 400],
      ['/escape.txt', 404],
      ['/old/secret.txt', 404],
      ['/.env', 404],
      ['/.git/config', 404],
      ['/%2egit/config', 404],
      ['/sub/.hidden', 404],
      ['//etc/passwd', 404],
    ];
    const results: string[] = [];
    for (const [target, expected] of attacks) {
      const response = await rawRequest(address, get(target));
      expect(response, target).not.toContain(SECRET);
      results.push(`${target} ${statusOf(response)}`);
      expect(statusOf(response), target).toBe(expected);
    }
    // Backslashes raw on the wire: refused by the HTTP parser or by the lookup, never served.
    const raw = await rawRequest(address, get('/..\\www-old\\secret.txt'));
    expect(raw).not.toContain(SECRET);
    expect([400, 404]).toContain(statusOf(raw));
    // The success path works, so the 400/404 above are not a broken server.
    expect(statusOf(await rawRequest(address, get('/')))).toBe(200);
    expect(statusOf(await rawRequest(address, get('/inside.html')))).toBe(200);
    expect(statusOf(await rawRequest(address, get('/.well-known/security.txt')))).toBe(200);
    expect(statusOf(await rawRequest(address, get('/sub/page')))).toBe(200);
  });

  it('answers 431 to oversized headers and 414 to oversized URLs', async () => {
    const address = await serveTrap();
    expect(
      statusOf(await rawRequest(address, get('/', `X-Big: ${'a'.repeat(8 * 1024)}\r\n`))),
    ).toBe(431);
    expect(statusOf(await rawRequest(address, get(`/${'a'.repeat(2 * 1024)}`)))).toBe(414);
    expect(statusOf(await rawRequest(address, get(`/${'a'.repeat(512)}`)))).toBe(404);
  });

  it('cuts off a client that sends its headers too slowly', async () => {
    const address = await serveTrap(', headersTimeout: 300ms, requestTimeout: 600ms');
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    // Half a request line, then nothing: the server must close the connection by itself.
    socket.write('GET / HTTP/1.1\r\nHost: example.test\r\nX-Slow: ');
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    expect(received === '' || statusOf(received) === 408).toBe(true);
  });

  it('names the node even on answers node:http makes before there is a request', async () => {
    const node = await makeNodeRoot();
    await node.addRelease('r1', { 'index.html': 'hi' });
    await node.activate('r1');
    const { origin } = await serveNode(nodeConfig(node.root, 'maxHeaderSize: 4KiB'));
    const address = origin.address.http[0] ?? '';
    const oversized = await rawRequest(address, get('/', `X-Big: ${'a'.repeat(8 * 1024)}\r\n`));
    expect(statusOf(oversized)).toBe(431);
    expect(oversized).toMatch(/\r\nx-owncdn-node: au\r\n/i);
    const garbage = await rawRequest(address, 'NOT HTTP AT ALL\r\n\r\n');
    expect(statusOf(garbage)).toBe(400);
    expect(garbage).toMatch(/\r\nx-owncdn-node: au\r\n/i);
    const fine = await rawRequest(address, get('/'));
    expect(statusOf(fine)).toBe(200);
    expect(fine).toMatch(/\r\nx-owncdn-node: au\r\n/i);
  });
});
