import { loadConfig } from '@owncdn/core';
import { describe, expect, test } from 'vitest';
import { startGeodns } from '../src/index.js';
import {
  SUBNETS,
  api,
  dig,
  editZone,
  healthyZone,
  recordingLogger,
  startTestServer,
} from './helpers.js';

// The API (issue #4, "What must work" 4): bearer token, node states and
// overrides, DNS-01 TXT records, /metrics.

const CHALLENGE = '_acme-challenge.www.example.org';

describe('API', () => {
  test('every route but /metrics needs the bearer token', async () => {
    const { files } = await healthyZone();
    const server = await startTestServer(files);
    for (const token of [null, 'wrong', `${files.token}x`, files.token.slice(0, -1)]) {
      const r = await api(server.api, 'GET', '/v1/nodes', { token });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({
        error:
          'missing or wrong bearer token (expected Authorization: Bearer <the content of dns.api.tokenFile>)',
      });
      expect(
        (await api(server.api, 'PUT', `/v1/txt/${CHALLENGE}`, { token, body: { value: 'x' } }))
          .status,
      ).toBe(401);
    }
    expect((await dig(server.port, [CHALLENGE, 'TXT'])).status).toBe('NXDOMAIN');
    expect((await api(server.api, 'GET', '/v1/nodes', { token: files.token })).status).toBe(200);
    expect((await api(server.api, 'GET', '/metrics')).status).toBe(200);
    // The token never reaches the log.
    expect(JSON.stringify(server.log.lines)).not.toContain(files.token);
  });

  test('GET /v1/nodes and PUT override drain a node and bring it back', async () => {
    const { files } = await healthyZone();
    const server = await startTestServer(files);
    const nodes = await api(server.api, 'GET', '/v1/nodes', { token: files.token });
    expect(nodes.json).toEqual(
      ['au', 'us', 'fr'].map((name) => ({
        name,
        state: 'up',
        since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        reason: expect.any(String),
        override: null,
        probes: expect.objectContaining({
          url: expect.stringMatching(/^http:\/\/127\.0\.0\.1[123]:\d+\/healthz$/),
        }),
      })),
    );
    const drained = await api(server.api, 'PUT', '/v1/nodes/fr/override', {
      token: files.token,
      body: { state: 'down' },
    });
    expect(drained.status).toBe(200);
    expect(drained.json).toMatchObject({
      name: 'fr',
      state: 'down',
      override: 'down',
      reason: 'override: forced down',
    });
    expect(
      (await dig(server.port, ['www.example.org', 'A', `+subnet=${SUBNETS.EU}`])).answer,
    ).toEqual(['www.example.org. 30 IN A 127.0.0.11']);
    expect(server.log.lines.some((l) => l.msg === 'node fr down: override: forced down')).toBe(
      true,
    );
    const back = await api(server.api, 'PUT', '/v1/nodes/fr/override', {
      token: files.token,
      body: { state: null },
    });
    expect(back.json).toMatchObject({ name: 'fr', state: 'up', override: null });
    expect(
      (await dig(server.port, ['www.example.org', 'A', `+subnet=${SUBNETS.EU}`])).answer,
    ).toEqual(['www.example.org. 30 IN A 127.0.0.13']);
    expect(
      (
        await api(server.api, 'PUT', '/v1/nodes/xx/override', {
          token: files.token,
          body: { state: 'up' },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await api(server.api, 'PUT', '/v1/nodes/fr/override', {
          token: files.token,
          body: { state: 'sideways' },
        })
      ).status,
    ).toBe(400);
  });

  test('DNS-01 TXT values: visible at once, several at a name, deleted one by one or all, SOA serial moves', async () => {
    const { files } = await healthyZone();
    const server = await startTestServer(files);
    const serial = async () =>
      Number((await dig(server.port, ['example.org', 'SOA'])).answer[0]?.split(' ')[6]);
    const before = await serial();
    expect(
      (
        await api(server.api, 'PUT', `/v1/txt/${CHALLENGE}`, {
          token: files.token,
          body: { value: 'token-one' },
        })
      ).status,
    ).toBe(204);
    expect((await dig(server.port, [CHALLENGE, 'TXT'])).answer).toEqual([
      `${CHALLENGE}. 30 IN TXT "token-one"`,
    ]);
    expect(await serial()).toBeGreaterThan(before);
    // A trailing dot and upper case are the same name.
    await api(server.api, 'PUT', `/v1/txt/_ACME-challenge.WWW.example.org.`, {
      token: files.token,
      body: { value: 'token-two' },
    });
    expect((await dig(server.port, [CHALLENGE, 'TXT'])).answer).toEqual([
      `${CHALLENGE}. 30 IN TXT "token-one"`,
      `${CHALLENGE}. 30 IN TXT "token-two"`,
    ]);
    // The wildcard's challenge lives at the apex's name.
    await api(server.api, 'PUT', '/v1/txt/_acme-challenge.example.org', {
      token: files.token,
      body: { value: 'wild' },
    });
    expect((await dig(server.port, ['_acme-challenge.example.org', 'TXT'])).answer).toEqual([
      '_acme-challenge.example.org. 30 IN TXT "wild"',
    ]);

    expect(
      (
        await api(server.api, 'DELETE', `/v1/txt/${CHALLENGE}`, {
          token: files.token,
          body: { value: 'token-one' },
        })
      ).status,
    ).toBe(204);
    expect((await dig(server.port, [CHALLENGE, 'TXT'])).answer).toEqual([
      `${CHALLENGE}. 30 IN TXT "token-two"`,
    ]);
    await api(server.api, 'PUT', `/v1/txt/${CHALLENGE}`, {
      token: files.token,
      body: { value: 'token-three' },
    });
    expect(
      (await api(server.api, 'DELETE', `/v1/txt/${CHALLENGE}`, { token: files.token })).status,
    ).toBe(204);
    expect((await dig(server.port, [CHALLENGE, 'TXT'])).status).toBe('NXDOMAIN');
    expect((await dig(server.port, ['_acme-challenge.example.org', 'TXT'])).answer).toHaveLength(1);
  });

  test('TXT names outside _acme-challenge.<zone> and bad bodies are 400 with a message', async () => {
    const { files } = await healthyZone();
    const server = await startTestServer(files);
    const put = (name: string, body: unknown) =>
      api(server.api, 'PUT', `/v1/txt/${name}`, { token: files.token, body });
    expect(await put('www.example.org', { value: 'x' })).toMatchObject({
      status: 400,
      json: {
        error:
          '"www.example.org" is not a DNS-01 challenge name (expected _acme-challenge.<name in example.org>)',
      },
    });
    expect(await put('_acme-challenge.example.com', { value: 'x' })).toMatchObject({
      status: 400,
      json: {
        error:
          '"_acme-challenge.example.com" is outside the zone example.org (expected _acme-challenge.<name in example.org>)',
      },
    });
    expect(await put(CHALLENGE, { nope: 1 })).toMatchObject({
      status: 400,
      json: { error: 'expected a body {"value": "<txt>"}' },
    });
    expect(await put(CHALLENGE, { value: 'v'.repeat(256) })).toMatchObject({ status: 400 });
    expect(
      (await api(server.api, 'POST', `/v1/txt/${CHALLENGE}`, { token: files.token })).status,
    ).toBe(405);
    expect((await dig(server.port, [CHALLENGE, 'TXT'])).status).toBe('NXDOMAIN');
  });

  test('TXT values expire after dns.api.txtLifetime', async () => {
    const { files } = await healthyZone();
    await editZone(files, (text) => text.replace('txtLifetime: 10m', 'txtLifetime: 100ms'));
    const server = await startTestServer(files);
    // Whether a dig gets in before 100 ms is up to the machine's load: only the expiry is asserted
    // (values being served is the previous test's business).
    const put = await api(server.api, 'PUT', `/v1/txt/${CHALLENGE}`, {
      token: files.token,
      body: { value: 'short-lived' },
    });
    expect(put.status).toBe(204);
    const expired = await server.log.waitFor(/^dns-01 txt value expired$/);
    expect(expired.obj).toEqual({ name: CHALLENGE });
    expect((await dig(server.port, [CHALLENGE, 'TXT'])).status).toBe('NXDOMAIN');
  });

  test('/metrics counts queries by type and rcode, continents, malformed packets and node states', async () => {
    const { files } = await healthyZone();
    const server = await startTestServer(files);
    await dig(server.port, ['www.example.org', 'A', `+subnet=${SUBNETS.EU}`]);
    await dig(server.port, ['nope.example.org', 'AAAA']);
    await dig(server.port, ['example.org', 'MX']);
    const text = (await api(server.api, 'GET', '/metrics')).text;
    expect(text).toContain('owncdn_geodns_queries_total{qtype="A",rcode="NOERROR"} 1');
    expect(text).toContain('owncdn_geodns_queries_total{qtype="AAAA",rcode="NXDOMAIN"} 1');
    expect(text).toContain('owncdn_geodns_queries_total{qtype="MX",rcode="NOERROR"} 1');
    expect(text).toContain('owncdn_geodns_geo_queries_total{continent="EU"} 1');
    expect(text).toContain('owncdn_geodns_node_up{node="fr",override="none"} 1');
    expect(text).toMatch(/owncdn_geodns_malformed_total\{reason="qdcount"\} 0/);
    expect(text).toMatch(/# TYPE owncdn_geodns_queries_total counter/);
  });

  test('no tokenFile: the API is not started and a warning says why', async () => {
    const { files } = await healthyZone();
    await editZone(files, (text) =>
      text.replace('  api: { tokenFile: ./api.token, txtLifetime: 10m }\n', ''),
    );
    const log = recordingLogger();
    const geodns = await startGeodns(await loadConfig(files.file), {
      log,
      listen: ['127.0.0.1:0'],
      apiListen: '127.0.0.1:0',
      workers: 1,
      watch: false,
    });
    await geodns.close();
    expect(geodns.address.api).toBeNull();
    expect(log.lines.find((l) => l.level === 'warn')?.msg).toBe(
      'API not started: dns.api.tokenFile is not set (DNS-01 and node overrides need it)',
    );
    expect(log.lines.filter((l) => l.msg === 'geodns listening')).toEqual([
      { level: 'info', msg: 'geodns listening', obj: { dns: geodns.address.dns, api: null } },
    ]);
  });
});
