/**
 * A small stand-in for Stripe's PaymentIntents API on 127.0.0.1 (no network), for the server's Stripe adapter
 * (STRIPE_API_BASE), and signed webhook deliveries as Stripe sends them.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Recorded {
  method: string;
  path: string;
  form: URLSearchParams;
  idempotencyKey: string | undefined;
  auth: string | undefined;
}

/** A small stand-in for Stripe's PaymentIntents API. */
export class StripeStandIn {
  readonly requests: Recorded[] = [];
  readonly intents = new Map<string, Any>();
  failNext = 0;
  private n = 0;
  private server: HttpServer | null = null;

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const url = new URL(req.url ?? '/', 'http://x');
    const form = new URLSearchParams(url.search.length > 1 ? url.search : text);
    const idem = req.headers['idempotency-key'];
    this.requests.push({ method: req.method ?? '', path: url.pathname, form: new URLSearchParams(text), idempotencyKey: typeof idem === 'string' ? idem : undefined, auth: req.headers.authorization });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${this.n}` });
      res.end(JSON.stringify(body));
    };
    if (this.failNext > 0) {
      this.failNext--;
      return send(500, { error: { type: 'api_error', message: 'stand-in failure' } });
    }
    const m = /^\/v1\/payment_intents(?:\/([^/]+))?(?:\/(cancel))?$/.exec(url.pathname);
    if (!m) return send(404, { error: { type: 'invalid_request_error', message: 'unknown path' } });
    const [, id, action] = m;
    if (req.method === 'POST' && !id) {
      const f = new URLSearchParams(text);
      const pid = `pi_test_${++this.n}`;
      const confirm = f.get('confirm') === 'true';
      const pi = {
        id: pid,
        object: 'payment_intent',
        amount: Number(f.get('amount')),
        amount_received: 0,
        currency: f.get('currency'),
        status: confirm ? 'succeeded' : 'requires_payment_method',
        client_secret: `${pid}_secret_abc`,
        customer: f.get('customer'),
        payment_method: f.get('payment_method'),
        next_action: null,
        metadata: { orderNo: f.get('metadata[orderNo]'), partnerId: f.get('metadata[partnerId]'), userId: f.get('metadata[userId]') },
      };
      this.intents.set(pid, pi);
      return send(200, pi);
    }
    const pi = id ? this.intents.get(id) : undefined;
    if (!pi) return send(404, { error: { type: 'invalid_request_error', message: 'no such payment_intent' } });
    if (req.method === 'POST' && action === 'cancel') {
      if (pi.status === 'succeeded' || pi.status === 'canceled') {
        return send(400, { error: { type: 'invalid_request_error', code: 'payment_intent_unexpected_state', message: `status ${pi.status}` } });
      }
      pi.status = 'canceled';
      return send(200, pi);
    }
    if (req.method === 'GET') return send(200, pi);
    void form;
    return send(405, { error: { type: 'invalid_request_error', message: 'method' } });
  }
}


/** A `Stripe-Signature` header for `payload`, as Stripe signs it. */
export function stripeSignature(payload: string, secret: string, timestampSec: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: timestampSec });
}

/** A payment_intent event of `type` for the intent `pi` (its status set as Stripe would). */
export function intentEvent(type: 'succeeded' | 'payment_failed' | 'canceled', pi: Any, id = `evt_${type}_${pi.id}`): Any {
  const status = type === 'payment_failed' ? 'requires_payment_method' : type;
  const amountReceived = type === 'succeeded' ? pi.amount : 0;
  return { id, object: 'event', type: `payment_intent.${type}`, data: { object: { ...pi, status, amount_received: amountReceived } } };
}
