/**
 * The reCAPTCHA verifiers (issue 20): Google's siteverify against a local stand-in server (never the internet), and
 * the development verifier.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DevelopmentRecaptchaVerifier, GoogleRecaptchaVerifier, RecaptchaVerifiers } from '../../src/auth/recaptcha.js';
import { UpstreamError } from '../../src/service/upstream.js';

type Handler = (form: URLSearchParams, res: ServerResponse) => void;

/** A siteverify stand-in: each test sets how it answers, and sees the forms it was sent. */
class Siteverify {
  server: Server;
  handler: Handler = (_f, res) => res.end('{}');
  forms: URLSearchParams[] = [];
  url = '';

  constructor() {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        this.forms.push(form);
        assert.equal(req.method, 'POST');
        assert.match(String(req.headers['content-type']), /^application\/x-www-form-urlencoded/);
        this.handler(form, res);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/recaptcha/api/siteverify`;
  }

  answer(status: number, body: unknown): void {
    this.handler = (_f, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
  }
}

const site = new Siteverify();
before(() => site.start());
after(() => {
  site.server.closeAllConnections();
  site.server.close();
});

const google = (opts: { minScore?: number; timeoutMs?: number; url?: string } = {}) =>
  new GoogleRecaptchaVerifier({ secret: 'site-secret-123', verifyUrl: opts.url ?? site.url, timeoutMs: opts.timeoutMs ?? 2000, ...(opts.minScore !== undefined ? { minScore: opts.minScore } : {}) });

async function upstream(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UpstreamError, String(err));
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, /site-secret-123/);
    return true;
  });
}

describe('Google siteverify', () => {
  it('posts the secret, the token and the remote address; success is ok', async () => {
    site.forms = [];
    site.answer(200, { success: true, challenge_ts: '2026-01-01T00:00:00Z', hostname: 'shop.example' });
    assert.deepEqual(await google().verify('tok-1', '203.0.113.9'), { ok: true });
    const form = site.forms[0]!;
    assert.equal(form.get('secret'), 'site-secret-123');
    assert.equal(form.get('response'), 'tok-1');
    assert.equal(form.get('remoteip'), '203.0.113.9');
    await google().verify('tok-2', undefined);
    assert.equal(site.forms[1]!.has('remoteip'), false);
  });

  it('v3: a score below the threshold is rejected, at or above it accepted', async () => {
    site.answer(200, { success: true, score: 0.3, action: 'checkout' });
    const low = await google().verify('t', undefined);
    assert.equal(low.ok, false);
    assert.match(low.ok ? '' : low.reason, /score 0\.3 is below 0\.5/);
    assert.deepEqual(await google({ minScore: 0.3 }).verify('t', undefined), { ok: true });
    site.answer(200, { success: true, score: 0.9 });
    assert.deepEqual(await google({ minScore: 0.8 }).verify('t', undefined), { ok: true });
  });

  it("a token Google refuses is rejected with Google's reasons", async () => {
    site.answer(200, { success: false, 'error-codes': ['timeout-or-duplicate'] });
    assert.deepEqual(await google().verify('t', undefined), { ok: false, reason: 'timeout-or-duplicate' });
    site.answer(200, { success: false });
    assert.deepEqual(await google().verify('t', undefined), { ok: false, reason: 'rejected' });
  });

  it('our own secret refused is an upstream failure (502), not the shopper\'s 400', async () => {
    site.answer(200, { success: false, 'error-codes': ['invalid-input-secret'] });
    await upstream(google().verify('t', undefined), /refused our request/);
  });

  it('a 500, a non-JSON or a foreign answer is an upstream failure', async () => {
    site.answer(500, { error: 'boom' });
    await upstream(google().verify('t', undefined), /answered 500/);
    site.answer(200, '<html>captive portal</html>');
    await upstream(google().verify('t', undefined), /unavailable/);
    site.answer(200, { success: 'yes' });
    await upstream(google().verify('t', undefined), /unexpected answer/);
  });

  it('a verifier that does not answer in time is an upstream failure', async () => {
    site.handler = () => {
      // never answers
    };
    await upstream(google({ timeoutMs: 200 }).verify('t', undefined), /timed out/);
  });

  it('an unreachable verifier is an upstream failure', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await upstream(google({ url: `http://127.0.0.1:${port}/siteverify` }).verify('t', undefined), /unavailable/);
  });
});

describe('the development verifier and the per-partner choice', () => {
  it('accepts every token except "invalid"', async () => {
    const dev = new DevelopmentRecaptchaVerifier();
    assert.deepEqual(await dev.verify('anything'), { ok: true });
    assert.equal((await dev.verify('invalid')).ok, false);
  });

  it("builds each partner's verifier from its shop.recaptcha", () => {
    const jwt = { secret: 'a-secret-of-16-chars!' };
    const shop = (recaptcha: { secret: string } | { development: true }) => ({ clients: [{ id: 'c', secret: 'x'.repeat(16), scopes: ['checkout' as const] }], url: 'https://s.example', recaptcha });
    const verifiers = new RecaptchaVerifiers(
      [
        { id: 'g', apiKeys: ['k-00000001'], jwt, shop: shop({ secret: 'google-secret' }) },
        { id: 'd', apiKeys: ['k-00000002'], jwt, shop: shop({ development: true }) },
        { id: 'none', apiKeys: ['k-00000003'], jwt },
      ],
      { verifyUrl: site.url },
    );
    assert.ok(verifiers.for('g') instanceof GoogleRecaptchaVerifier);
    assert.ok(verifiers.for('d') instanceof DevelopmentRecaptchaVerifier);
    assert.equal(verifiers.for('none'), undefined);
  });
});
