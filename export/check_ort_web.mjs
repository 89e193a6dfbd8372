// Run every file listed in an export's models.json with onnxruntime-web's WASM build (in Node),
// on fixed inputs, and print the outputs as JSON: proves the browser runtime supports every
// op of every variant. Usage: node export/check_ort_web.mjs MODELS_DIR [path/to/ort.wasm.min.mjs]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2];
const ortPath = process.argv[3] || new URL('../static_site/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs', import.meta.url).pathname;
const ort = await import(pathToFileURL(ortPath).href);
ort.env.wasm.numThreads = 1;
const meta = JSON.parse(readFileSync(`${dir}/models.json`, 'utf8'));

// The same fixed inputs are built in Python by tests/test_export.py.
const ramp = (n, scale) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * scale);
const results = {};
const g = meta.generator;
if (g) {
  const n = 2 * g.in_channels * g.sample_size * g.sample_size;
  for (const [precision, entry] of Object.entries(g.files)) {
    const session = await ort.InferenceSession.create(readFileSync(`${dir}/${entry.name}`), { executionProviders: ['wasm'] });
    const out = await session.run({
      sample: new ort.Tensor('float32', ramp(n, 1.5), [2, g.in_channels, g.sample_size, g.sample_size]),
      timestep: new ort.Tensor('float32', new Float32Array([700, 700]), [2]),
      class_labels: new ort.Tensor('int64', new BigInt64Array([3n, BigInt(meta.null_class_id)]), [2]),
    });
    results[`generator/${precision}`] = Array.from(out.out_sample.data);
  }
}
const c = meta.classifier;
if (c) {
  const s = c.preprocess.image_size;
  for (const [precision, entry] of Object.entries(c.files)) {
    const session = await ort.InferenceSession.create(readFileSync(`${dir}/${entry.name}`), { executionProviders: ['wasm'] });
    const out = await session.run({ pixel_values: new ort.Tensor('float32', ramp(2 * 3 * s * s, 2.0), [2, 3, s, s]) });
    results[`classifier/${precision}`] = Array.from(out.logits.data);
  }
}
console.log(JSON.stringify(results));
