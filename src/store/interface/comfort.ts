/** Per-user settings of the checkout comfort features (saved PSP customer and payment method, one-click). */
import type { BasketKey } from './baskets.js';

export interface ComfortSettings {
  customerId: string | null;
  paymentMethodId: string | null;
  oneClick: boolean;
}

export interface ComfortStore {
  getComfort(key: BasketKey): Promise<ComfortSettings | null>;
  putComfort(key: BasketKey, settings: ComfortSettings): Promise<void>;
}
