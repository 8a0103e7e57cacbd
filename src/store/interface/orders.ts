/** Orders: created once by a checkout, changed by read-modify-write, listed per user newest first. */
import type { EventAttribution } from './events.js';

export type OrderStatus = 'pending_payment' | 'paid' | 'ordered' | 'cancelled';

export interface OrderLine {
  productId: string;
  count: number;
  /** Units reserved for this line (the charged count); negative or 0 when not charged; null = unlimited. */
  stocked: number | null;
  name: string;
  unitPrice: number;
  taxRateBp: number;
  lineTotal: number;
  lineTax: number;
}

export interface Order {
  orderNo: string;
  partnerId: string;
  userId: string;
  sessionId: string;
  status: OrderStatus;
  currency: string;
  /** Minor units. */
  fullPrice: number;
  fullTax: number;
  shippingCost: number;
  lines: OrderLine[];
  testMode: boolean;
  paymentProvider: string;
  /** Provider's payment reference (e.g. a Stripe PaymentIntent id); indexed for webhooks. */
  paymentRef: string | null;
  /** Provider-specific fields returned to the client. */
  payment: Record<string, unknown>;
  created: number;
  updated: number;
  /** Where the checkout came from (tracking header, provider): the events of the order's outcome carry it. */
  attribution?: EventAttribution;
}

export interface OrderPage {
  orders: Order[];
  /** Opaque cursor for the next page, null when there is none. */
  next: string | null;
}

export interface OrderStore {
  /** Inserts a new order; rejects if the order number exists. */
  createOrder(order: Order): Promise<void>;
  getOrder(partnerId: string, orderNo: string): Promise<Order | null>;
  getOrderByPaymentRef(provider: string, paymentRef: string): Promise<Order | null>;
  /** Atomic read-modify-write of one order; `fn` returning null keeps it unchanged. Null when not found. */
  updateOrder(partnerId: string, orderNo: string, fn: (order: Order) => Order | null): Promise<Order | null>;
  /** Newest first. */
  listOrders(partnerId: string, userId: string, limit: number, cursor: string | null): Promise<OrderPage>;
}
