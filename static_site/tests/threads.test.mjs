import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateThreads, pickFastest } from '../src/threads.js';
import { pickFile, ModelError } from '../src/models.js';

test('thread candidates: powers of two up to min(4, cores)', () => {
  assert.deepEqual(candidateThreads(1), [1]);
  assert.deepEqual(candidateThreads(2), [1, 2]);
  assert.deepEqual(candidateThreads(3), [1, 2, 3]);
  assert.deepEqual(candidateThreads(16), [1, 2, 4]);
  assert.deepEqual(candidateThreads(undefined), [1]);
});

test('the fastest count wins; within 5% fewer threads win', () => {
  assert.equal(pickFastest({ 1: 30.9, 2: 49.6 }), 1);
  assert.equal(pickFastest({ 1: 663.9, 2: 392.2 }), 2);
  assert.equal(pickFastest({ 1: 100, 2: 97 }), 1);
  assert.equal(pickFastest({ 1: 100, 2: 60, 4: 58 }), 2);
  assert.equal(pickFastest({ 1: 100, 2: 60, 4: 40 }), 4);
});

test('pickFile checks every external data entry', () => {
  const config = (extra) => ({
    generator: { default_precision: 'fp32', files: { fp32: { name: 'g.onnx', size: 1, sha256: 'ab', ...extra } } },
  });
  const ok = pickFile(config({ external_data: [{ name: 'g.onnx.data0', size: 2, sha256: 'cd' }] }), 'generator');
  assert.deepEqual(ok.external_data, [{ name: 'g.onnx.data0', size: 2, sha256: 'cd' }]);
  assert.deepEqual(pickFile(config({}), 'generator').external_data, []);
  assert.throws(
    () => pickFile(config({ external_data: [{ name: 'g.onnx.data0', size: 2 }] }), 'generator'),
    (err) => err instanceof ModelError && /external_data\[0\] has no "sha256"/.test(err.message),
  );
  assert.throws(() => pickFile(config({ external_data: 'g.onnx.data0' }), 'generator'), /is not a list/);
});
