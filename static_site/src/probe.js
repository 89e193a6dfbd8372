// One thread-count probe (see threads.js): a fresh onnxruntime-web WASM instance with
// `threads` threads runs the generator on the [cond, uncond] batch and reports the median ms.

const RUNS = 5;
const BUDGET_MS = 2000; // stop early on a slow model: at least 2 timed runs

self.onmessage = async ({ data }) => {
  try {
    const ort = await import(`${data.vendor}ort.wasm.min.mjs`);
    ort.env.wasm.wasmPaths = data.vendor;
    ort.env.wasm.numThreads = data.threads;
    ort.env.wasm.proxy = false;
    const session = await ort.InferenceSession.create(data.bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
      externalData: data.externalData,
    });
    const g = data.generator;
    const n = g.in_channels * g.sample_size * g.sample_size;
    const sample = Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 12.9898) * 0.8);
    const feeds = {
      sample: new ort.Tensor('float32', sample, [2, g.in_channels, g.sample_size, g.sample_size]),
      timestep: new ort.Tensor('float32', new Float32Array([500, 500]), [2]),
      class_labels: new ort.Tensor('int64', BigInt64Array.from([0n, BigInt(data.nullClassId ?? g.num_classes)]), [2]),
    };
    await session.run(feeds); // warm-up
    const times = [];
    const start = performance.now();
    while (times.length < RUNS && (times.length < 2 || performance.now() - start < BUDGET_MS)) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    await session.release?.();
    self.postMessage({ ms: times[Math.floor(times.length / 2)], runs: times.length });
  } catch (err) {
    self.postMessage({ error: err.message || String(err) });
  }
};
