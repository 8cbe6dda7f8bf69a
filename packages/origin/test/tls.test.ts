import { X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect as connectHttp2 } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { Agent, request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  createRecordingLogger,
  installCertificate,
  makeNodeRoot,
  nodeConfig,
  rawRequest,
  serveNode,
  statusOf,
} from './helpers.js';

/** The certificate a TLS handshake to `address` with `servername` presents. */
function peerCertificate(
  address: string,
  servername: string,
  ca: string[],
): Promise<X509Certificate> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    // Identity is checked by the test (which certificate came back), not by the client.
    const socket = connectTls(
      { host: '127.0.0.1', port, servername, ca, checkServerIdentity: () => undefined },
      () => {
        const raw = socket.getPeerX509Certificate();
        socket.end();
        if (raw) resolve(raw);
        else reject(new Error('no peer certificate'));
      },
    );
    socket.on('error', reject);
  });
}

function h2Get(
  session: ClientHttp2Session,
  path: string,
): Promise<{ status: number; node: string; type: string; length: string; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':authority': 'example.test' });
    let status = 0;
    let node = '';
    let type = '';
    let length = '';
    let body = '';
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      node = String(headers['x-owncdn-node']);
      type = String(headers['content-type']);
      length = String(headers['content-length']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status, node, type, length, body }));
    stream.on('error', reject);
  });
}

async function nodeWithSite() {
  const node = await makeNodeRoot();
  await node.addRelease('r1', { 'index.html': '<h1>secure</h1>', 'about.html': 'about' });
  await node.activate('r1');
  return node;
}

describe('TLS', () => {
  it('serves HTTP until a certificate arrives, then HTTPS with SNI, and redirects plain HTTP except health and ACME', async () => {
    const node = await nodeWithSite();
    const log = createRecordingLogger();
    const config = nodeConfig(
      node.root,
      '',
      '{ name: site, names: [example.test, www.example.test] }',
    );
    const { http, origin } = await serveNode(config, {}, log);
    const httpsAddress = origin.address.https[0] ?? '';
    const plain = await request(`${http}/about`, { headers: { host: 'example.test' } });
    expect(plain.statusCode).toBe(200);
    expect(await plain.body.text()).toBe('about');
    expect(await (await request(`${http}/healthz`)).body.json()).toMatchObject({
      tls: false,
      certificates: [],
    });

    let seen = log.records.length;
    const sitePem = await installCertificate(
      node.root,
      'site',
      ['example.test', 'www.example.test'],
      'v1',
    );
    await log.waitFor('certificates loaded', () => true, seen);
    seen = log.records.length;
    const wildPem = await installCertificate(node.root, 'wild', ['*.wild.example.test'], 'v1');
    await log.waitFor(
      'certificates loaded',
      (o) => Array.isArray(o.certificates) && o.certificates.length === 2,
      seen,
    );
    const ca = [sitePem, wildPem];
    const site = new X509Certificate(sitePem);

    // SNI picks by SAN, wildcards included; an unknown name gets the default (first in config order).
    expect((await peerCertificate(httpsAddress, 'www.example.test', ca)).serialNumber).toBe(
      site.serialNumber,
    );
    expect((await peerCertificate(httpsAddress, 'a.wild.example.test', ca)).serialNumber).toBe(
      new X509Certificate(wildPem).serialNumber,
    );
    expect((await peerCertificate(httpsAddress, 'other.test', ca)).serialNumber).toBe(
      site.serialNumber,
    );

    const agent = new Agent({ connect: { ca, servername: 'example.test' } });
    onTestFinished(() => agent.close());
    const secure = await request(`https://${httpsAddress}/`, {
      dispatcher: agent,
      headers: { host: 'example.test' },
    });
    expect(secure.statusCode).toBe(200);
    expect(secure.headers['x-owncdn-node']).toBe('au');
    expect(await secure.body.text()).toBe('<h1>secure</h1>');

    const redirect = await request(`${http}/about?x=1`, {
      headers: { host: 'www.example.test:8080' },
    });
    expect(redirect.statusCode).toBe(308);
    expect(redirect.headers.location).toBe(
      `https://www.example.test:${httpsAddress.split(':')[1]}/about?x=1`,
    );
    await redirect.body.dump();
    // A Host that is not one of the site's names is not redirected anywhere.
    const foreign = await request(`${http}/about`, { headers: { host: 'evil.test' } });
    expect(foreign.statusCode).toBe(200);
    await foreign.body.dump();

    const health = await request(`${http}/healthz`, { headers: { host: 'example.test' } });
    expect(health.statusCode).toBe(200);
    const facts = (await health.body.json()) as {
      tls: boolean;
      certificates: { name: string; names: string[]; notAfter: string; serial: string }[];
    };
    expect(facts.tls).toBe(true);
    expect(facts.certificates.map((c) => [c.name, c.names])).toEqual([
      ['site', ['example.test', 'www.example.test']],
      ['wild', ['*.wild.example.test']],
    ]);
    expect(facts.certificates[0]?.serial).toBe(site.serialNumber.toUpperCase());
    expect(facts.certificates[0]?.notAfter).toBe(new Date(site.validTo).toISOString());
    const secureHealth = await request(`https://${httpsAddress}/healthz`, { dispatcher: agent });
    expect(secureHealth.statusCode).toBe(200);
    await secureHealth.body.dump();

    await writeFile(
      join(node.root, 'acme-thumbprint'),
      'thumbprint_abcdefghijklmnopqrstuvwxyz012345\n',
    );
    const token = 'tok_ABCDEFGHIJKLMNOP-123';
    const challenge = await request(`${http}/.well-known/acme-challenge/${token}`, {
      headers: { host: 'example.test' },
    });
    expect(challenge.statusCode).toBe(200);
    expect(challenge.headers['content-type']).toBe('text/plain');
    expect(await challenge.body.text()).toBe(
      `${token}.thumbprint_abcdefghijklmnopqrstuvwxyz012345`,
    );
  });

  it('answers HTTP-01 from per-token files first, stateless thumbprints second, else 404', async () => {
    const node = await nodeWithSite();
    const { http, origin } = await serveNode(nodeConfig(node.root));
    const address = origin.address.http[0] ?? '';
    const get = async (token: string) => {
      const r = await request(`${http}/.well-known/acme-challenge/${token}`);
      return `${r.statusCode} ${await r.body.text()}`;
    };
    const token = 'AbCdEfGhIjKlMnOpQrSt_-01';
    expect(await get(token)).toBe('404 no such challenge\n');
    await mkdir(join(node.root, 'acme-challenge'));
    await writeFile(
      join(node.root, 'acme-challenge', token),
      `${token}.per-token-key-authorisation`,
    );
    expect(await get(token)).toBe(`200 ${token}.per-token-key-authorisation`);
    await writeFile(join(node.root, 'acme-thumbprint'), 'ThumbPrint0123456789abcdefghij');
    expect(await get(token)).toBe(`200 ${token}.per-token-key-authorisation`);
    expect(await get('OtherToken0123456789')).toBe(
      '200 OtherToken0123456789.ThumbPrint0123456789abcdefghij',
    );
    // Not a token (too short, or a path): never reaches the file system.
    expect(await get('short')).toBe('404 no such challenge\n');
    const traversal = await rawRequest(
      address,
      'GET /.well-known/acme-challenge/..%2F..%2Fcurrent%2Findex.html HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(statusOf(traversal)).toBe(400);
    const encoded = await rawRequest(
      address,
      'GET /.well-known/acme-challenge/%2e%2e%2facme-thumbprint0000000 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(statusOf(encoded)).toBe(400);
  });

  it('picks up a replaced certificate for new connections while an HTTP/2 connection stays open', async () => {
    const node = await nodeWithSite();
    const first = await installCertificate(node.root, 'site', ['example.test'], 'v1');
    const log = createRecordingLogger();
    const { origin } = await serveNode(nodeConfig(node.root), {}, log);
    const httpsAddress = origin.address.https[0] ?? '';
    const session = connectHttp2(`https://${httpsAddress}`, {
      ca: [first],
      servername: 'example.test',
    });
    onTestFinished(() => void session.close());
    let sessionClosed = false;
    session.on('close', () => (sessionClosed = true));
    session.on('error', () => undefined);
    expect(await h2Get(session, '/')).toEqual({
      status: 200,
      node: 'au',
      type: 'text/html; charset=utf-8',
      length: '15',
      body: '<h1>secure</h1>',
    });
    expect(session.alpnProtocol).toBe('h2');
    // A flood of streams on one connection is refused past 128 (Node's default is unbounded).
    expect(session.remoteSettings.maxConcurrentStreams).toBe(128);

    const seen = log.records.length;
    const second = await installCertificate(node.root, 'site', ['example.test'], 'v2');
    await log.waitFor('certificates loaded', () => true, seen);
    // The open connection keeps working on its old certificate...
    expect(await h2Get(session, '/about')).toEqual({
      status: 200,
      node: 'au',
      type: 'text/html; charset=utf-8',
      length: '5',
      body: 'about',
    });
    expect(sessionClosed).toBe(false);
    // ...and a new one gets the new certificate, with no restart.
    const presented = await peerCertificate(httpsAddress, 'example.test', [first, second]);
    expect(presented.serialNumber).toBe(new X509Certificate(second).serialNumber);
    expect(presented.serialNumber).not.toBe(new X509Certificate(first).serialNumber);
    // A broken set (key and certificate do not match) is refused; the loaded one stays.
    const before = log.records.length;
    await installCertificate(node.root, 'site', ['example.test'], 'v3', true);
    const refused = await log.waitFor(
      'certificate unusable: keeping the previous one',
      () => true,
      before,
    );
    expect(refused.level).toBe('warn');
    expect(
      (await peerCertificate(httpsAddress, 'example.test', [first, second])).serialNumber,
    ).toBe(new X509Certificate(second).serialNumber);
    // HTTP/1.1 clients still get in (ALPN fallback).
    const agent = new Agent({ connect: { ca: [second], servername: 'example.test' } });
    onTestFinished(() => agent.close());
    const h1 = await request(`https://${httpsAddress}/`, { dispatcher: agent });
    expect(h1.statusCode).toBe(200);
    await h1.body.dump();
  });

  it('cuts off a slow HTTP/1.1 client over TLS too', async () => {
    const node = await nodeWithSite();
    const pem = await installCertificate(node.root, 'site', ['example.test'], 'v1');
    const { origin } = await serveNode(
      nodeConfig(node.root, 'headersTimeout: 300ms, requestTimeout: 600ms'),
    );
    const httpsAddress = origin.address.https[0] ?? '';
    const port = Number(httpsAddress.slice(httpsAddress.lastIndexOf(':') + 1));
    const socket = connectTls({
      host: '127.0.0.1',
      port,
      servername: 'example.test',
      ca: [pem],
      ALPNProtocols: ['http/1.1'],
    });
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    expect(socket.alpnProtocol).toBe('http/1.1');
    socket.write('GET / HTTP/1.1\r\nHost: example.test\r\nX-Slow: ');
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    expect(received === '' || statusOf(received) === 408).toBe(true);
  });
});
