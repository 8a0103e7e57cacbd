/**
 * What the shop's admin routes (admin-offers.ts, admin-subscriptions.ts) share: loading failures as the device
 * envelope's errors (they are admin routes, beside the catalogue's), and the JSON-lines body of their imports.
 */
import { Type } from 'typebox';
import { BasketError } from '../../domain/errors.js';
import { ShopInputError } from '../../domain/shop/wire-fields.js';
import { ParsedJsonLines } from '../../service/json-lines.js';
import { ShopLoadConflict, ShopLoadError, type Loading } from '../../service/shop-admin.js';
import { linesRefused, NO_LINES } from '../json-lines-body.js';

export const PartnerQuery = Type.Object({ partner: Type.String({ minLength: 1, description: 'Partner id whose records are loaded or read' }) });
export const RecordIdSchema = Type.String({ minLength: 1, maxLength: 128 });

const bodyField = (field: string) => (field === '' ? 'body' : `body.${field}`);
const lineMessage = (field: string, message: string) => `/${field.replaceAll('.', '/')} ${message}`;

/**
 * Runs a load (parsing included) and answers its failures: a bad field 422 `3002` naming `body.<field>` (a PUT)
 * or `line N` (an import), a conflict with what is stored 409.
 */
export async function loading<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (err instanceof ShopInputError) {
      throw new BasketError('REQUEST_VALIDATION_ERROR', `${bodyField(err.field)} ${err.message}`, [{ field: bodyField(err.field), message: err.message }]);
    }
    if (err instanceof ShopLoadError) {
      const details = err.problems.map((p) =>
        p.line === null ? { field: bodyField(p.field), message: p.message } : { field: `line ${p.line}`, message: lineMessage(p.field, p.message) },
      );
      const first = details[0]!;
      throw new BasketError('REQUEST_VALIDATION_ERROR', details.length === 1 ? `${first.field} ${first.message}` : `${details.length} problems; nothing loaded`, details);
    }
    if (err instanceof ShopLoadConflict) {
      throw new BasketError(err.kind === 'offer-version' ? 'OFFER_VERSION_CONFLICT' : 'SUBSCRIPTION_NAME_CONFLICT', err.message);
    }
    throw err;
  }
}

/** The records of an import body (a ParsedJsonLines the body parser filled); bad lines: 422, nothing loaded. */
export function importedLines<T>(body: unknown): Loading<T>[] {
  if (!(body instanceof ParsedJsonLines)) throw linesRefused([NO_LINES]);
  const lines = body as ParsedJsonLines<T>;
  if (lines.errors.length > 0) throw linesRefused(lines.errors);
  if (lines.items.length === 0) throw linesRefused([NO_LINES]);
  return lines.items;
}
