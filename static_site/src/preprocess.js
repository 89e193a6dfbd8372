// Classifier preprocessing, exactly cats_dit.preprocessing (image_to_array + preprocess_array):
// RGBA uint8 -> alpha over white (PIL's alpha_composite integer maths) -> float [0,1] CHW ->
// shorter side to resize_size (bilinear, align_corners=False, no antialias, torch's index and
// weight formulas) -> centre crop image_size -> (x - mean) / std. Plain Float32Array maths,
// never canvas scaling, so the numbers match Python's.

const f32 = Math.fround;

// The same limits as the server: cats_dit.preprocessing.MAX_ASPECT_RATIO and
// cats_dit.serving.validation.MAX_IMAGE_PIXELS (a canvas silently returns blank pixels for
// huge images, which would get a confident answer for nothing).
export const MAX_ASPECT_RATIO = 20;
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Throws an Error naming the problem when an image of this size must not be classified. */
export function checkImageSize(width, height, maxPixels = MAX_IMAGE_PIXELS) {
  if (!(width >= 1 && height >= 1)) throw new Error(`Image is ${width}x${height} pixels: it has no pixels to classify`);
  if (width * height > maxPixels) {
    throw new Error(
      `Image is too large: ${width}x${height} = ${((width * height) / 1e6).toFixed(1)} megapixels; ` +
        `the limit is ${maxPixels / 1e6} megapixels. Resize it first.`,
    );
  }
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (ratio > MAX_ASPECT_RATIO) {
    throw new Error(
      `Image is ${width}x${height} pixels (aspect ratio ${Math.round(ratio)}:1); the classifier looks at a centre ` +
        `square, so images more than ${MAX_ASPECT_RATIO} times wider than tall (or taller than wide) are refused. Crop it first.`,
    );
  }
}

/** Python's round(): half to even. */
export function pyRound(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** RGBA uint8 (width*height*4) -> float32 [3, H, W] in [0, 1], transparent pixels over white. */
export function rgbaToTensor(rgba, width, height) {
  const n = width * height;
  if (rgba.length !== n * 4) throw new Error(`RGBA buffer has ${rgba.length} bytes, expected ${n * 4}`);
  const out = new Float32Array(3 * n);
  for (let p = 0; p < n; p++) {
    const a = rgba[p * 4 + 3];
    for (let c = 0; c < 3; c++) {
      let v = rgba[p * 4 + c];
      if (a < 255) {
        // PIL AlphaComposite.c with an opaque white destination (PRECISION_BITS = 7).
        const tmp = v * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7);
        v = ((tmp >>> 8) + tmp) >>> 8 >>> 7;
        if (a === 0) v = 255;
      }
      out[c * n + p] = f32(v / 255);
    }
  }
  return out;
}

/** torch's linear source indices and weights for one axis (align_corners=False). */
function linearAxis(inSize, outSize, start, count) {
  const i0 = new Int32Array(count);
  const i1 = new Int32Array(count);
  const w0 = new Float32Array(count);
  const w1 = new Float32Array(count);
  const scale = f32(inSize / outSize);
  for (let k = 0; k < count; k++) {
    const o = start + k;
    if (inSize === outSize) {
      i0[k] = i1[k] = o;
      w0[k] = 1;
      w1[k] = 0;
      continue;
    }
    // torch's compiled kernel fuses this into one fma: a single rounding to float32.
    let src = f32(scale * (o + 0.5) - 0.5);
    if (src < 0) src = 0;
    const idx = Math.min(Math.floor(src), inSize - 1);
    const lambda = Math.min(Math.max(f32(src - idx), 0), 1);
    i0[k] = idx;
    i1[k] = idx + (idx < inSize - 1 ? 1 : 0);
    w1[k] = lambda;
    w0[k] = f32(1 - lambda);
  }
  return { i0, i1, w0, w1 };
}

/**
 * float32 [3, H, W] in [0, 1] -> normalised float32 [3, S, S].
 * cfg: {resize_size, image_size, mean: [3], std: [3]} (models.json classifier.preprocess).
 */
export function preprocessTensor(x, height, width, cfg) {
  const R = cfg.resize_size;
  const S = cfg.image_size;
  if (!(R >= S)) throw new Error(`preprocess: resize_size (${R}) must be >= image_size (${S})`);
  if (x.length !== 3 * height * width) throw new Error(`tensor has ${x.length} values, expected 3x${height}x${width}`);
  checkImageSize(width, height, Infinity);
  const short = Math.min(height, width);
  const newH = height === short ? R : pyRound((height * R) / short);
  const newW = width === short ? R : pyRound((width * R) / short);
  const top = pyRound((newH - S) / 2.0);
  const left = pyRound((newW - S) / 2.0);
  const rows = linearAxis(height, newH, top, S);
  const cols = linearAxis(width, newW, left, S);
  const out = new Float32Array(3 * S * S);
  for (let c = 0; c < 3; c++) {
    const m = f32(cfg.mean[c]);
    const sd = f32(cfg.std[c]);
    const plane = c * height * width;
    for (let y = 0; y < S; y++) {
      const r0 = plane + rows.i0[y] * width;
      const r1 = plane + rows.i1[y] * width;
      const wy0 = rows.w0[y];
      const wy1 = rows.w1[y];
      for (let xo = 0; xo < S; xo++) {
        const c0 = cols.i0[xo];
        const c1 = cols.i1[xo];
        const wx0 = cols.w0[xo];
        const wx1 = cols.w1[xo];
        // Corner weights, then a chain of fused multiply-adds (closest to torch's CPU kernel).
        let v = f32(x[r0 + c0] * f32(wy0 * wx0));
        v = f32(x[r0 + c1] * f32(wy0 * wx1) + v);
        v = f32(x[r1 + c0] * f32(wy1 * wx0) + v);
        v = f32(x[r1 + c1] * f32(wy1 * wx1) + v);
        out[c * S * S + y * S + xo] = f32(v - m) / sd;
      }
    }
  }
  return out;
}

/** Softmax over logits (float64 accumulation), returns a plain array. */
export function softmax(logits) {
  const max = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Top-k [{index, prob}] sorted by probability. */
export function topK(probs, k) {
  return Array.from(probs, (prob, index) => ({ index, prob }))
    .sort((a, b) => b.prob - a.prob)
    .slice(0, k);
}
