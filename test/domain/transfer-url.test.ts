/** Transfer URLs: what may be extended, and how jaySource/jayToken are added (pure functions). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BasketError } from '../../src/domain/errors.js';
import { hashTransferToken, newGuestUserId, newTransferToken } from '../../src/domain/transfer-token.js';
import { MAX_TRANSFER_URL_LENGTH, buildTransferUrl, hostAllowed, parseTransferUrl, transferUrlWithoutToken, withTransferToken } from '../../src/domain/transfer-url.js';

const P = { jaySource: 'acme-tv', jayToken: 'tok_EN-123' };
const build = (input: string, hosts?: string[]) => buildTransferUrl(input, { hosts }, P);

function rejects(input: string, hosts: string[] | undefined, message: RegExp): void {
  assert.throws(
    () => build(input, hosts),
    (err: unknown) => {
      assert.ok(err instanceof BasketError, `${input}: expected BasketError, got ${String(err)}`);
      assert.equal(err.kind, 'TRANSFER_URL_INVALID', input);
      assert.match(err.message, message, input);
      return true;
    },
    input,
  );
}

describe('buildTransferUrl: extending the URL', () => {
  it('appends jaySource and jayToken to a bare URL', () => {
    assert.equal(build('https://shop.example.com/basket'), 'https://shop.example.com/basket?jaySource=acme-tv&jayToken=tok_EN-123');
    assert.equal(build('https://shop.example.com'), 'https://shop.example.com/?jaySource=acme-tv&jayToken=tok_EN-123');
  });

  it('keeps the existing query exactly (encoding and order) and the fragment', () => {
    assert.equal(
      build('https://shop.example.com/p?q=a%20b&tag=x+y&flag&e=%2F#section-2?x=1'),
      'https://shop.example.com/p?q=a%20b&tag=x+y&flag&e=%2F&jaySource=acme-tv&jayToken=tok_EN-123#section-2?x=1',
    );
    const u = new URL(build('https://shop.example.com/?a=1&a=2#top'));
    assert.deepEqual(u.searchParams.getAll('a'), ['1', '2']);
    assert.equal(u.hash, '#top');
  });

  it('replaces earlier jayToken / jaySource parameters, however they are spelled', () => {
    const out = build('https://shop.example.com/?jayToken=old&x=1&jaySource=evil&jay%54oken=older&jayToken');
    const u = new URL(out);
    assert.deepEqual(u.searchParams.getAll('jayToken'), [P.jayToken]);
    assert.deepEqual(u.searchParams.getAll('jaySource'), [P.jaySource]);
    assert.equal(u.searchParams.get('x'), '1');
    // parameter names are case-sensitive: jaytoken is someone else's
    assert.equal(new URL(build('https://shop.example.com/?jaytoken=keep')).searchParams.get('jaytoken'), 'keep');
  });

  it('encodes values so that they decode back to what was given', () => {
    const params = { jaySource: 'Mein Sender & Co/=?#', jayToken: 'a+b/c=' };
    const u = new URL(buildTransferUrl('https://shop.example.com/', {}, params));
    assert.equal(u.searchParams.get('jaySource'), params.jaySource);
    assert.equal(u.searchParams.get('jayToken'), params.jayToken);
    assert.equal(u.hash, '');
  });

  it('handles unicode hosts, paths, queries and fragments (ASCII out, same meaning)', () => {
    const out = build('https://bücher.example/straße?q=grün#größe');
    assert.match(out, /^[\x21-\x7e]+$/, 'serialized URL is printable ASCII');
    const u = new URL(out);
    assert.equal(u.hostname, 'xn--bcher-kva.example');
    assert.equal(decodeURIComponent(u.pathname), '/straße');
    assert.equal(u.searchParams.get('q'), 'grün');
    assert.equal(decodeURIComponent(u.hash), '#größe');
    assert.equal(u.searchParams.get('jayToken'), P.jayToken);
  });

  it('accepts long URLs up to the limit and refuses longer results', () => {
    const base = 'https://shop.example.com/?q=';
    const suffix = `&jaySource=${P.jaySource}&jayToken=${P.jayToken}`;
    const fits = `${base}${'a'.repeat(MAX_TRANSFER_URL_LENGTH - base.length - suffix.length)}`;
    assert.equal(build(fits).length, MAX_TRANSFER_URL_LENGTH);
    rejects(`${fits}a`, undefined, /longer than 2048/);
    // percent-encoding counts: 700 "ü" are 4200 characters once encoded
    rejects(`${base}${'ü'.repeat(700)}`, undefined, /longer than/);
  });

  it('the stored form has no token, and adding the token back gives the very same URL', () => {
    for (const input of ['https://shop.example.com', 'https://shop.example.com/p?a=%20&jayToken=old&b#frag', 'https://bücher.example/?q=grün#ü']) {
      const stored = transferUrlWithoutToken(new URL(input), P.jaySource);
      assert.ok(!stored.includes('jayToken'), stored);
      assert.equal(withTransferToken(stored, P.jayToken), build(input), input);
    }
  });

  it('keeps ports and IP hosts', () => {
    assert.equal(build('http://127.0.0.1:8080/landing'), 'http://127.0.0.1:8080/landing?jaySource=acme-tv&jayToken=tok_EN-123');
    assert.match(build('http://[::1]:3000/'), /^http:\/\/\[::1\]:3000\/\?jaySource/);
  });
});

describe('parseTransferUrl: what a transfer may point to', () => {
  const hosts = ['shop.example.com', '*.acme.example', 'localhost:3000'];

  it('exact hosts match case-insensitively and on any port', () => {
    for (const ok of ['https://shop.example.com/x', 'https://SHOP.Example.COM/x', 'http://shop.example.com:8443/']) {
      assert.doesNotThrow(() => build(ok, hosts), ok);
    }
  });

  it('wildcards match any subdomain but not the apex or look-alikes', () => {
    assert.doesNotThrow(() => build('https://m.acme.example/', hosts));
    assert.doesNotThrow(() => build('https://a.b.acme.example/', hosts));
    rejects('https://acme.example/', hosts, /not allowed/);
    rejects('https://evilacme.example/', hosts, /not allowed/);
    rejects('https://acme.example.evil.com/', hosts, /not allowed/);
  });

  it('an entry with a port allows that port only', () => {
    assert.doesNotThrow(() => build('http://localhost:3000/', hosts));
    rejects('http://localhost:3001/', hosts, /not allowed/);
    rejects('http://localhost/', hosts, /not allowed/);
  });

  it('hosts outside the list are refused; an empty or absent list allows any host', () => {
    rejects('https://evil.com/', hosts, /evil\.com is not allowed/);
    rejects('https://shop.example.com.evil.com/', hosts, /not allowed/);
    rejects('https://shop.example.com./', hosts, /not allowed/);
    assert.doesNotThrow(() => build('https://anything.example.net/', []));
    assert.doesNotThrow(() => build('https://anything.example.net/', undefined));
  });

  it('refuses credentials, including the user-info trick', () => {
    rejects('https://shop.example.com@evil.com/', hosts, /credentials/);
    rejects('https://shop.example.com@evil.com/', undefined, /credentials/);
    rejects('https://user:pass@shop.example.com/', hosts, /credentials/);
    rejects('https://:pass@shop.example.com/', hosts, /credentials/);
  });

  it('refuses other schemes and script tricks', () => {
    for (const bad of [
      'javascript:alert(1)',
      'JavaScript:alert(document.cookie)//https://shop.example.com/',
      ' javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'vbscript:msgbox(1)',
      'ftp://shop.example.com/',
      'file:///etc/passwd',
      'blob:https://shop.example.com/uuid',
    ]) {
      rejects(bad, undefined, /Only http and https/);
    }
  });

  it('refuses control characters the parser would silently drop', () => {
    rejects('java\tscript:alert(1)', undefined, /control characters/);
    rejects('https://shop.example.com/\nx', undefined, /control characters/);
    rejects('https://evil.com\u0000.shop.example.com/', hosts, /control characters/);
  });

  it('refuses relative, protocol-relative and empty URLs', () => {
    for (const bad of ['/landing', '//evil.com/x', 'shop.example.com/x', '', '   ']) rejects(bad, undefined, /empty|absolute/);
  });

  it('judges the host the browser would see (backslashes, odd forms)', () => {
    rejects('https:\\\\evil.com\\shop.example.com', hosts, /evil\.com is not allowed/);
    rejects('https://evil.com\\@shop.example.com/', hosts, /not allowed|credentials/);
    rejects('http:evil.com', hosts, /evil\.com is not allowed/);
    rejects('https://evil.com#@shop.example.com/', hosts, /evil\.com is not allowed/);
    rejects('https://evil.com?@shop.example.com/', hosts, /evil\.com is not allowed/);
  });

  it('a trusted (configured) URL skips the allow-list but not the scheme rules', () => {
    assert.equal(parseTransferUrl('https://other.example/', { hosts }, true).hostname, 'other.example');
    assert.throws(() => parseTransferUrl('javascript:alert(1)', { hosts }, true), BasketError);
  });

  it('hostAllowed ignores malformed entries', () => {
    const u = new URL('https://shop.example.com/');
    assert.equal(hostAllowed(u, ['', '*.', 'https://shop.example.com', 'user@shop.example.com', 'shop.example.com/path']), false);
    assert.equal(hostAllowed(u, [' shop.example.com ']), true);
  });
});

describe('transfer tokens and guest ids', () => {
  it('tokens carry 256 random bits as base64url; the stored form is the SHA-256', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newTransferToken()));
    assert.equal(tokens.size, 1000);
    for (const t of tokens) assert.match(t, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(hashTransferToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('guest ids are guest- plus 128 random bits', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newGuestUserId()));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^guest-[A-Za-z0-9_-]{22}$/);
  });
});
