// Shared helpers for the node tests: fixture loading and float32 ulp distance.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// CATS_DIT_FIXTURES lets pytest point at freshly generated reference arrays.
const FIXTURES = process.env.CATS_DIT_FIXTURES || join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function loadFixture(name) {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
}

const buf = new DataView(new ArrayBuffer(4));
function orderedBits(x) {
  buf.setFloat32(0, x);
  const i = buf.getInt32(0);
  return i < 0 ? -2147483648 - i : i;
}

/** Distance in float32 units in the last place. */
export function ulps(a, b) {
  return Math.abs(orderedBits(a) - orderedBits(b));
}

/** {maxUlps, maxAbs, exact} over two equal-length arrays. */
export function compare(actual, expected) {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let maxUlps = 0;
  let maxAbs = 0;
  let exact = 0;
  for (let i = 0; i < actual.length; i++) {
    const u = ulps(actual[i], expected[i]);
    maxUlps = Math.max(maxUlps, u);
    maxAbs = Math.max(maxAbs, Math.abs(actual[i] - expected[i]));
    if (u === 0) exact++;
  }
  return { maxUlps, maxAbs, exact, n: actual.length };
}
