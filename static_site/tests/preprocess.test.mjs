import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rgbaToTensor, preprocessTensor, pyRound, softmax, topK, checkImageSize, MAX_ASPECT_RATIO } from '../src/preprocess.js';
import { loadFixture, compare } from './helpers.mjs';

for (const c of loadFixture('preprocess.json')) {
  test(`preprocess ${c.height}x${c.width} matches cats_dit.classifier (image_to_tensor + preprocess_tensor)`, () => {
    const x = rgbaToTensor(Uint8ClampedArray.from(c.rgba), c.width, c.height);
    assert.equal(compare(x, c.tensor).maxUlps, 0, 'image_to_tensor (alpha over white) differs');
    const y = preprocessTensor(x, c.height, c.width, c);
    const r = compare(y, c.out);
    assert.equal(r.maxUlps, 0, `max abs difference ${r.maxAbs}`);
  });
}

test('Python rounding and bad configs', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 2.4, 2.6].map(pyRound), [0, 2, 2, 2, 3]);
  assert.throws(() => preprocessTensor(new Float32Array(3 * 4), 2, 2, { resize_size: 8, image_size: 16, mean: [0, 0, 0], std: [1, 1, 1] }), /resize_size/);
  assert.throws(() => rgbaToTensor(new Uint8ClampedArray(3), 1, 1), /RGBA buffer/);
});

test('thin, huge and empty images are refused with the reason (as cats_dit.preprocessing)', () => {
  const cfg = { resize_size: 20, image_size: 16, mean: [0, 0, 0], std: [1, 1, 1] };
  assert.throws(() => preprocessTensor(new Float32Array(3 * 40000), 1, 40000, cfg), /40000x1 pixels \(aspect ratio 40000:1\)/);
  assert.throws(() => preprocessTensor(new Float32Array(3 * 21), 21, 1, cfg), /more than 20 times/);
  assert.equal(preprocessTensor(new Float32Array(3 * MAX_ASPECT_RATIO), 1, MAX_ASPECT_RATIO, cfg).length, 3 * 16 * 16);
  assert.throws(() => checkImageSize(20000, 20000), /400\.0 megapixels; the limit is 40 megapixels/);
  assert.throws(() => checkImageSize(0, 5), /no pixels/);
  checkImageSize(8000, 5000);
});

test('softmax and top-k', () => {
  const p = softmax([1, 3, 2]);
  assert.ok(Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-12);
  assert.deepEqual(topK(p, 2).map((e) => e.index), [1, 2]);
});
