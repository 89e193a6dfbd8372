import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowMatchScheduler, combineGuidance } from '../src/scheduler.js';
import { generate, roundHalfEven, toUnitRange } from '../src/sampler.js';
import { loadFixture, compare } from './helpers.mjs';

const fixture = loadFixture('scheduler.json');

for (const run of fixture.runs) {
  const name = `${run.config.solver}/${run.config.prediction_type}/shift=${run.config.shift}/steps=${run.steps}`;
  test(`scheduler ${name} matches Python step by step`, () => {
    const sched = new FlowMatchScheduler(run.config);
    sched.setTimesteps(run.steps);
    assert.deepEqual(Array.from(sched.timesteps), run.timesteps, 'timesteps');
    assert.deepEqual(Array.from(sched.sigmas), run.sigmas, 'sigmas');
    let x = Float32Array.from(run.initial);
    run.model_outputs.forEach((out, i) => {
      x = sched.step(Float32Array.from(out), x);
      const r = compare(x, run.samples[i]);
      assert.equal(r.maxUlps, 0, `step ${i}: ${r.n - r.exact} values differ (max ${r.maxAbs})`);
    });
    assert.equal(sched.stepIndex, run.timesteps.length);
  });
}

test('CFG v_u + g (v_c - v_u) matches Python bit for bit', () => {
  for (const c of fixture.guidance) {
    const out = combineGuidance(Float32Array.from(c.cond), Float32Array.from(c.uncond), c.guidance);
    assert.equal(compare(out, c.out).maxUlps, 0, `guidance ${c.guidance}`);
  }
});

test('sampler loop: one model call per step on the [cond, uncond] batch', async () => {
  const calls = [];
  const runModel = async (sample, t, labels, batch) => {
    calls.push({ batch, labels: Array.from(labels, Number), t: Array.from(t) });
    return new Float32Array(sample.length).fill(0.25);
  };
  const res = await generate({
    runModel, classIds: [3, 5], nullClassId: 13, seed: 9, channels: 3, size: 4, steps: 3, guidance: 2.0, solver: 'heun',
  });
  assert.equal(calls.length, 5); // Heun: 2N - 1 model calls
  assert.deepEqual(calls[0].labels, [3, 5, 13, 13]);
  assert.ok(calls.every((c) => c.batch === 4));
  assert.equal(res.images.length, 2 * 3 * 16);
  assert.equal(res.stepMs.length, 5);
  // guidance 1 skips CFG: batch of the conditional images only
  calls.length = 0;
  await generate({ runModel, classIds: [1], nullClassId: 13, seed: 0, channels: 3, size: 4, steps: 2, guidance: 1.0, solver: 'euler' });
  assert.deepEqual(calls.map((c) => c.labels), [[1], [1]]);
});

for (const c of fixture.intervals) {
  test(`guidance interval [${c.interval}] (${c.config.solver}, ${c.steps} steps, shift ${c.config.shift}): the same model calls as Python`, async () => {
    const calls = [];
    const runModel = async (sample, t, labels, batch) => {
      calls.push({ batch, t: t[0], labels: Array.from(labels, Number) });
      return new Float32Array(sample.length);
    };
    await generate({
      runModel, classIds: [2, 7], nullClassId: 13, seed: 1, channels: 3, size: 4, steps: c.steps, guidance: 2.5,
      guidanceInterval: c.interval, solver: c.config.solver, schedulerConfig: { shift: c.config.shift },
    });
    assert.deepEqual(calls, c.calls);
  });
}

test('guidance interval: bad values are refused with the reason', async () => {
  const runModel = async (sample) => new Float32Array(sample.length);
  const base = { runModel, classIds: [0], nullClassId: 13, seed: 1, channels: 3, size: 4, steps: 2, guidance: 3, solver: 'euler' };
  for (const bad of [[0.5, 0.2], [-0.1, 1], [0, 1.5], [0.2], 'x', [NaN, 1]]) {
    await assert.rejects(generate({ ...base, guidanceInterval: bad }), /guidance_interval must/);
  }
});

test('cancel stops the sampler between steps', async () => {
  let n = 0;
  const runModel = async (sample) => {
    n++;
    return new Float32Array(sample.length);
  };
  await assert.rejects(
    generate({
      runModel, classIds: [0], nullClassId: 13, seed: 1, channels: 3, size: 4, steps: 10, guidance: 3, solver: 'euler',
      isCancelled: () => n >= 2,
    }),
    { name: 'CancelledError' },
  );
  assert.equal(n, 2);
});

test('output mapping: clamp, (x+1)/2, numpy round half to even', () => {
  assert.deepEqual(Array.from(toUnitRange(Float32Array.from([-3, -1, 0, 1, 2]))), [0, 0, 0.5, 1, 1]);
  assert.deepEqual([0.5, 1.5, 2.5, 254.5, 3.49].map(roundHalfEven), [0, 2, 2, 254, 3]);
});
