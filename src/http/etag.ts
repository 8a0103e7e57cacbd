/**
 * Basket versions on the wire (RFC 9110 §8.8.3, §13.1.1–2): `ETag: "v12"` names the stored version of the basket
 * (`"v0"`: absent or expired, it reads as empty). `If-None-Match` on GET compares weakly (a `W/` tag matches its
 * strong twin) and answers 304; `If-Match` on a write compares strongly (a `W/` tag never matches) and becomes a
 * Precondition that the update checks against the version it reads. A header that is not a list of entity tags
 * (or `*`) is a 422, never ignored: a client that meant to guard a write must learn that it did not.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BasketError } from '../domain/errors.js';
import type { Precondition } from '../domain/versions.js';

export function etagOf(version: number): string {
  return `"v${version}"`;
}

interface EntityTag {
  weak: boolean;
  /** The opaque tag with its quotes. */
  opaque: string;
}

/** `*`, or the entity tags of a list header; null when the header is malformed. */
function parseTags(header: string): '*' | EntityTag[] | null {
  const text = header.trim();
  if (text === '*') return '*';
  const tags: EntityTag[] = [];
  // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, separated by commas and optional whitespace; empty elements allowed
  const re = /\s*(?:(W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*)?(,|$)/gy;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m === null || m[0] === '') return null;
    if (m[2] !== undefined) tags.push({ weak: m[1] !== undefined, opaque: m[2] });
    pos = re.lastIndex;
  }
  return tags.length === 0 ? null : tags;
}

/** The version an opaque tag of ours names; undefined for anyone else's tag. */
function versionOf(opaque: string): number | undefined {
  const m = /^"v(0|[1-9][0-9]{0,14})"$/.exec(opaque);
  return m ? Number(m[1]) : undefined;
}

function malformed(header: string): BasketError {
  const field = `headers.${header}`;
  return new BasketError('REQUEST_VALIDATION_ERROR', `${header} must be * or a list of entity tags such as "v12"`, [
    { field, message: 'must be * or a comma-separated list of entity tags ("v12")' },
  ]);
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  // Node joins repeated list headers with ", ", which is the list they spell together
  return typeof value === 'string' ? value : undefined;
}

/** The request's If-Match as a Precondition; undefined without the header; 422 when it is malformed. */
export function ifMatchOf(request: FastifyRequest): Precondition | undefined {
  const header = headerOf(request, 'if-match');
  if (header === undefined) return undefined;
  const tags = parseTags(header);
  if (tags === null) throw malformed('if-match');
  if (tags === '*') return { any: true };
  const versions: number[] = [];
  for (const t of tags) {
    const v = t.weak ? undefined : versionOf(t.opaque);
    if (v !== undefined) versions.push(v);
  }
  return { versions };
}

/** Whether the request's If-None-Match names `version` (weak comparison; `*` names any); 422 when malformed. */
export function ifNoneMatchHits(request: FastifyRequest, version: number): boolean {
  const header = headerOf(request, 'if-none-match');
  if (header === undefined) return false;
  // the hot case, a client sending back the tag it got, without parsing
  if (header === etagOf(version)) return true;
  const tags = parseTags(header);
  if (tags === null) throw malformed('if-none-match');
  return tags === '*' || tags.some((t) => versionOf(t.opaque) === version);
}

/** Sets the ETag of a basket answer. */
export function setEtag(reply: FastifyReply, version: number): FastifyReply {
  return reply.header('ETag', etagOf(version));
}
