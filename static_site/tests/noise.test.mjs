import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededNormal, seededNoise, imageSeeds, splitmix32, xoshiro128ss } from '../src/noise.js';
import { loadFixture, compare } from './helpers.mjs';

test('seeded noise equals Python seeded_normal to float32 precision', () => {
  let exact = 0;
  let total = 0;
  for (const c of loadFixture('noise.json')) {
    const r = compare(seededNormal(c.seed, c.n), c.values);
    // Box-Muller runs in float64 on both sides; libm cos/log may differ in the last
    // float64 bit, which can move the float32 result by at most one ulp.
    assert.ok(r.maxUlps <= 1, `seed ${c.seed}: ${r.maxUlps} ulps apart`);
    exact += r.exact;
    total += r.n;
  }
  assert.ok(exact / total > 0.99, `only ${exact}/${total} values bit-identical`);
  console.log(`noise: ${exact}/${total} values bit-identical to Python, the rest within 1 float32 ulp`);
});

test('the uint32 stream is 32-bit exact (splitmix32 / xoshiro128**)', () => {
  // Large seeds exercise Math.imul wrap-around: results must stay uint32.
  const [state, z] = splitmix32(0xffffffff);
  assert.equal(state, (0xffffffff + 0x9e3779b9) % 2 ** 32);
  assert.ok(Number.isInteger(z) && z >= 0 && z < 2 ** 32);
  const out = xoshiro128ss(0xffffffff, 1000);
  assert.ok(out.every((v) => v >= 0 && v < 2 ** 32));
  assert.notDeepEqual(Array.from(xoshiro128ss(1, 8)), Array.from(xoshiro128ss(2, 8)));
});

test('image k of a batch uses seed + k (mod 2^32)', () => {
  assert.deepEqual(imageSeeds(2 ** 32 - 1, 3), [2 ** 32 - 1, 0, 1]);
  const batch = seededNoise(imageSeeds(5, 2), 3, 4, 4);
  assert.deepEqual(Array.from(batch.subarray(48)), Array.from(seededNormal(6, 48)));
});

test('bad seeds are rejected with a clear error', () => {
  assert.throws(() => seededNormal(-1, 4), /seed must be an integer/);
  assert.throws(() => seededNormal(2 ** 32, 4), /seed must be an integer/);
  assert.throws(() => seededNormal(1.5, 4), /seed must be an integer/);
});
