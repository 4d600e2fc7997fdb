/**
 * The oracle every "no input crashes it" property shares: a call either returns, or throws one of
 * the project's error classes (never a TypeError, RangeError, stack overflow, ...) with a message.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { KamalGateError } from '../../src/errors.js';

type ErrorClass = abstract new (...args: never[]) => KamalGateError;

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: KamalGateError };

export function cleanly<T>(run: () => T, ...allowed: ErrorClass[]): Outcome<T> {
  try {
    return { ok: true, value: run() };
  } catch (e) {
    return { ok: false, error: checkError(e, allowed) };
  }
}

export async function cleanlyAsync<T>(run: () => Promise<T>, ...allowed: ErrorClass[]): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (e) {
    return { ok: false, error: checkError(e, allowed) };
  }
}

function checkError(e: unknown, allowed: ErrorClass[]): KamalGateError {
  if (!allowed.some((c) => e instanceof c)) {
    throw new Error(`expected ${allowed.map((c) => c.name).join(' or ')}, got ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
  }
  const err = e as KamalGateError;
  expect(err.message.trim().length).toBeGreaterThan(0);
  return err;
}

/** A string biased towards the characters a parser cares about, with any Unicode mixed in. */
export function syntaxString(alphabet: string, maxLength = 200): fc.Arbitrary<string> {
  const unit = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...alphabet.split('')) },
    { weight: 1, arbitrary: fc.constantFrom('\u00e9', '\u{1F600}', '\ud800', '\u2028', '\r', '\n', '\\') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  );
  return fc.string({ unit, maxLength });
}
