import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadFixture } from './helpers.mjs';
import { breedFromName, checkedNumber, readHash, settingsFromHash, settingsToHash } from '../src/settings.js';

test('breed names resolve as in Python (cats_dit.breeds.to_id)', () => {
  const { labels, display_names: displayNames, cases } = loadFixture('breeds.json');
  assert.ok(cases.length > 40);
  for (const [name, expected] of cases) {
    assert.equal(breedFromName(name, labels, displayNames), expected, `breed name ${JSON.stringify(name)}`);
  }
});

test('a shared link round-trips and bad values are named', () => {
  const { labels } = loadFixture('breeds.json');
  const config = { labels, generator: { default_precision: 'fp16', files: { fp16: {}, int8: {} } } };
  const s = { breed: 4, steps: 12, guidance: 2.5, solver: 'heun', seed: 4294967295, precision: 'int8' };
  const { values, problems } = settingsFromHash(readHash(settingsToHash(s, labels)), config);
  assert.deepEqual(problems, []);
  assert.deepEqual(values, { breed: 4, steps: 12, guidance: 2.5, sampler: 'heun', seed: 4294967295, precision: 'int8' });
  const bad = settingsFromHash(readHash('#breed=dog&steps=0&guidance=x&sampler=ddim&precision=fp64'), config);
  assert.deepEqual(bad.values, {});
  assert.equal(bad.problems.length, 5);
  for (const field of ['breed', 'steps', 'guidance', 'sampler', 'precision']) {
    assert.ok(bad.problems.some((p) => p.startsWith(field) || p.includes(`${field} "`)), field);
  }
  assert.throws(() => checkedNumber('seed', ''), /seed must be a whole number/);
});
