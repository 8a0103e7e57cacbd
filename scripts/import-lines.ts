/**
 * What the JSON-lines import commands share (`catalog:import`, `offers:import`, `subscriptions:import`): the
 * arguments `<file.jsonl> [--partner <id>]`, the partner, reading and parsing the file, one store opened with a long
 * deadline, and failures as one line each (`file:line: message`). All or nothing: one bad line and nothing is
 * written.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { configOrFail, failer } from './cli.js';
import type { LineError } from '../src/service/json-lines.js';
import { ShopLoadConflict, ShopLoadError } from '../src/service/shop-admin.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';

export interface ImportCommand<T> {
  /** The npm script's name, which starts every message. */
  name: string;
  /** The file's records and its bad lines. */
  parse(text: string, partnerId: string): { items: { line: number; value: T }[]; errors: LineError[] };
  /** Writes the records; answers the line to print (warnings may go to stderr). */
  load(store: Store, partnerId: string, items: { line: number; value: T }[]): Promise<string>;
}

export async function runImport<T>(command: ImportCommand<T>): Promise<void> {
  const fail: (message: string) => never = failer(command.name);
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { partner: { type: 'string' } } });
  const file = positionals[0];
  if (!file || positionals.length > 1) fail(`usage: npm run ${command.name} -- <file.jsonl> [--partner <id>]`);

  const config = configOrFail(fail);
  const partnerId = values.partner ?? (config.partners.length === 1 ? config.partners[0]!.id : undefined);
  if (!partnerId) fail(`several partners are configured; name one with --partner (${config.partners.map((p) => p.id).join(', ')})`);
  if (!config.partners.some((p) => p.id === partnerId)) fail(`no partner ${partnerId}`);

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    fail(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const { items, errors } = command.parse(text, partnerId);
  const refuse: (lines: readonly LineError[]) => never = (lines) => {
    for (const e of lines.slice(0, 50)) console.error(`${file}:${e.line}: ${e.message}`);
    return fail(`${lines.length} invalid line(s); nothing imported`);
  };
  if (errors.length > 0) refuse(errors);
  // The whole file is one load: a request's deadline (STORE_TIMEOUT) is too short for a large file.
  const store = await openStore(config.storeUrl, { timeoutMs: Math.max(config.storeTimeoutMs, 60_000) });
  let outcome: { ok: string } | { refused: LineError[] } | { conflict: string };
  try {
    outcome = { ok: await command.load(store, partnerId, items) };
  } catch (err) {
    if (err instanceof ShopLoadError) outcome = { refused: err.problems.map((p) => ({ line: p.line ?? 0, message: `/${p.field.replaceAll('.', '/')} ${p.message}` })) };
    else if (err instanceof ShopLoadConflict) outcome = { conflict: err.message };
    else throw err;
  } finally {
    await store.close();
  }
  if ('refused' in outcome) refuse(outcome.refused);
  if ('conflict' in outcome) fail(`${outcome.conflict}; nothing imported`);
  console.log(outcome.ok);
}
