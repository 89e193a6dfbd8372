// `npm run build`: copy the onnxruntime-web files the page loads into vendor/, so nothing
// comes from a CDN. The WASM build (ort.wasm) is what runs without WebGPU; the WebGPU
// build brings its own (asyncify) wasm binary and is loaded only when an adapter exists.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'node_modules', 'onnxruntime-web', 'dist');
const vendor = join(here, 'vendor');
export const FILES = [
  'ort.wasm.min.mjs',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort.webgpu.min.mjs',
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
];

if (!existsSync(dist)) {
  console.error(`error: ${dist} is missing; run "npm ci" in static_site/ first`);
  process.exit(1);
}
mkdirSync(vendor, { recursive: true });
let total = 0;
for (const name of FILES) {
  const src = join(dist, name);
  if (!existsSync(src)) {
    console.error(`error: ${src} is missing: this onnxruntime-web version ships different files`);
    process.exit(1);
  }
  copyFileSync(src, join(vendor, name));
  total += statSync(src).size;
}
const version = JSON.parse(readFileSync(join(here, 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8')).version;
writeFileSync(join(vendor, 'VERSION'), `onnxruntime-web ${version}\n`);
console.log(`copied ${FILES.length} onnxruntime-web ${version} files (${(total / 1e6).toFixed(1)} MB) to ${vendor}`);
