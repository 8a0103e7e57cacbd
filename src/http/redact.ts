/**
 * Secrets out of logs (issue 17): transfer tokens travel in URLs (`/landing?jayToken=`, `/baskets/guests?jayToken=`,
 * `/baskets/transfers/{token}/qr.png`), keys and bearer tokens in headers. The service logger masks them wherever
 * a request, its headers or a body is logged: the URL through the `req` serializer, the rest through pino's redact.
 */
import type { FastifyRequest } from 'fastify';

export const REDACTED = '[redacted]';

const SECRET_HEADERS = ['authorization', 'x-api-key', 'x-admin-key', 'cookie', 'set-cookie', 'stripe-signature', 'idempotency-key'];
const SECRET_FIELDS = ['jayToken', 'token', 'apiKey', 'adminKey', 'secret', 'password', 'client_secret', 'access_token'];

/** pino `redact` paths: secret headers of a logged request (or a bare headers object) and secret body fields. */
export const REDACT_PATHS: string[] = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`, `*.headers["${h}"]`]),
  ...SECRET_FIELDS.flatMap((f) => [`body.${f}`, `req.body.${f}`, `*.body.${f}`]),
];

/** A query parameter whose value is a secret (decoded name): jayToken and any other token, key or signature. */
const SECRET_PARAM = /token|key|secret|signature|password/i;

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** The URL with secret query values and the token of a QR image path masked; most URLs are returned as they are. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (path.includes('/transfers/')) path = path.replace(/\/transfers\/[^/]+/, `/transfers/${REDACTED}`);
  if (q === -1) return path;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq === -1 ? part : part.slice(0, eq);
      return SECRET_PARAM.test(decodedName(name)) ? `${name}=${REDACTED}` : part;
    })
    .join('&');
  return `${path}?${query}`;
}

/** The `req` serializer: Fastify's fields, with the URL redacted. */
export function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket ? req.socket.remotePort : undefined,
  };
}
