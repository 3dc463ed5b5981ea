/** Retry policy: the defaults (as Amazon EventBridge), the next delay, and when to give up. */
import type { Attempt } from '../ports.ts';
import type { RetryPolicy } from './rule-types.ts';

/** EventBridge's policy: 185 attempts over at most 24 h, exponential backoff with full jitter, 1 s → 5 min. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 185,
  maxAgeSeconds: 86_400,
  backoff: Object.freeze({ kind: 'exponential', initialMs: 1_000, maxMs: 300_000, jitter: true }),
});

/** How a failed attempt should continue. */
export type RetryDecision =
  | { readonly retry: true; readonly dueAt: number; readonly delayMs: number }
  | { readonly retry: false; readonly reason: string };

export interface FailureInfo {
  /** Whether the failure is worth retrying (timeouts, 5xx, 429, connection errors, thrown handlers). */
  readonly retriable: boolean;
  /** A delay the target asked for (`Retry-After`), in ms. */
  readonly retryAfterMs?: number;
  /** The error text, for the dead-letter reason. */
  readonly error: string;
}

/** The backoff delay before attempt number `attempt + 1`, where `attempt` ≥ 1 attempts have failed. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const { backoff } = policy;
  const ceiling =
    backoff.kind === 'fixed'
      ? backoff.initialMs
      : Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 40));
  return backoff.jitter ? Math.floor(random() * ceiling) : ceiling;
}

/**
 * Decides what follows a failed attempt: a retry at a due time, or giving up (dead letter) with the reason.
 * `attempts` includes the attempt that just failed.
 */
export function decideRetry(
  policy: RetryPolicy,
  attempts: readonly Attempt[],
  createdAt: number,
  now: number,
  failure: FailureInfo,
  random: () => number = Math.random,
): RetryDecision {
  if (!failure.retriable) return { retry: false, reason: `not retriable: ${failure.error}` };
  if (attempts.length >= policy.maxAttempts) {
    return { retry: false, reason: `retries exhausted after ${attempts.length} attempts: ${failure.error}` };
  }
  const delayMs = Math.max(backoffDelay(policy, attempts.length, random), failure.retryAfterMs ?? 0);
  const dueAt = now + delayMs;
  if (dueAt - createdAt > policy.maxAgeSeconds * 1000) {
    return {
      retry: false,
      reason: `maximum event age of ${policy.maxAgeSeconds} s reached: ${failure.error}`,
    };
  }
  return { retry: true, dueAt, delayMs };
}

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP-date) into ms from `now`.
 * @see https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
