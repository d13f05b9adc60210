/**
 * Train / eval split by whole repositories: a unit is held out for evaluation when a hash of its id (and a salt
 * naming the split's version) falls in the first `evalFraction` of the hash range. Deterministic, independent of
 * the order or the number of units, and stable when units are added.
 */
import crypto from "node:crypto";

export const SPLIT_SALT = "longview-split-v1";
export const DEFAULT_EVAL_FRACTION = 0.1;

export type Split = "train" | "eval";

/** A number in [0, 1) from the unit id. */
export function splitHash(id: string, salt = SPLIT_SALT): number {
  const h = crypto.createHash("sha256").update(`${salt}\u0000${id}`).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

export function splitOf(id: string, evalFraction = DEFAULT_EVAL_FRACTION, salt = SPLIT_SALT): Split {
  return splitHash(id, salt) < evalFraction ? "eval" : "train";
}
