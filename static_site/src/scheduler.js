// Flow-matching scheduler: a port of cats_dit/scheduling_flow_match.py (FlowMatchScheduler).
// Python runs the step in float32 with sigmas stored as float32 and Python-float scalars
// cast to float32; every JS operation here is one float64 op followed by Math.fround,
// which gives the same bits (a float64 result of one +,-,*,/ on float32 inputs rounds
// to float32 exactly like the float32 op would).

const f32 = Math.fround;

/** numpy.linspace(start, stop, num) in float64. */
function linspace(start, stop, num) {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  out[num - 1] = stop;
  return out;
}

/** SD3 resolution shift. */
export function shiftSigma(s, shift) {
  return (shift * s) / (1 + (shift - 1) * s);
}

export class FlowMatchScheduler {
  constructor({
    num_train_timesteps = 1000,
    shift = 1.0,
    solver = 'euler',
    prediction_type = 'velocity',
    min_sigma_for_x_pred = 0.05,
  } = {}) {
    if (solver !== 'euler' && solver !== 'heun') throw new Error(`solver must be 'euler' or 'heun', got '${solver}'`);
    if (prediction_type !== 'velocity' && prediction_type !== 'sample') {
      throw new Error(`prediction_type must be 'velocity' or 'sample', got '${prediction_type}'`);
    }
    this.config = { num_train_timesteps, shift, solver, prediction_type, min_sigma_for_x_pred };
    this.numInferenceSteps = null;
    this.sigmas = new Float32Array(0);
    this.timesteps = new Float32Array(0);
    this.stepIndex = 0;
    this._prevDerivative = null;
    this._prevSample = null;
    this._dt = null;
  }

  /** The N+1 noise levels from 1 down to 0 (float32). */
  intervalSigmas(n) {
    const T = this.config.num_train_timesteps;
    const s = linspace(1.0 * T, 1.0, n).map((t) => shiftSigma(t / T, this.config.shift));
    s.push(0.0);
    return Float32Array.from(s);
  }

  setTimesteps(n) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`num_inference_steps must be at least 1, got ${n}`);
    this.numInferenceSteps = n;
    let sigmas = this.intervalSigmas(n);
    if (this.config.solver === 'heun') {
      // [s0, s1, s1, s2, s2, ..., s_{N-1}, 0]: predictor and corrector share interval ends.
      const layout = [sigmas[0]];
      for (let i = 1; i < sigmas.length - 1; i++) layout.push(sigmas[i], sigmas[i]);
      layout.push(sigmas[sigmas.length - 1]);
      sigmas = Float32Array.from(layout);
    }
    this.sigmas = sigmas;
    const T = this.config.num_train_timesteps;
    this.timesteps = Float32Array.from(sigmas.subarray(0, sigmas.length - 1), (s) => f32(s * T));
    this.stepIndex = 0;
    this._prevDerivative = this._prevSample = this._dt = null;
  }

  get stateInFirstOrder() {
    return this._prevDerivative === null;
  }

  /** Model output -> velocity (for x prediction: (x - x0_hat) / max(sigma, min_sigma)). */
  toVelocity(modelOutput, sample, sigma) {
    if (this.config.prediction_type === 'velocity') return modelOutput;
    const s = f32(Math.max(sigma, this.config.min_sigma_for_x_pred));
    const v = new Float32Array(sample.length);
    for (let j = 0; j < v.length; j++) v[j] = f32(sample[j] - modelOutput[j]) / s;
    return v;
  }

  /** One step at this.timesteps[this.stepIndex]; returns the new sample (Float32Array). */
  step(modelOutput, sample) {
    if (this.numInferenceSteps === null) throw new Error('call setTimesteps() before step()');
    const i = this.stepIndex;
    if (i >= this.timesteps.length) throw new Error('step() called after the last timestep');
    const sigma = this.sigmas[i];
    const sigmaNext = this.sigmas[i + 1];
    const v = this.toVelocity(modelOutput, sample, sigma);
    const prev = new Float32Array(sample.length);

    if (this.config.solver === 'euler' || (this.stateInFirstOrder && sigmaNext === 0)) {
      const dt = f32(sigmaNext - sigma);
      for (let j = 0; j < prev.length; j++) prev[j] = sample[j] + f32(dt * v[j]);
    } else if (this.stateInFirstOrder) {
      // Predictor: Euler to the interval's end; remember slope and start.
      this._dt = f32(sigmaNext - sigma);
      this._prevDerivative = Float32Array.from(v);
      this._prevSample = Float32Array.from(sample);
      for (let j = 0; j < prev.length; j++) prev[j] = sample[j] + f32(this._dt * v[j]);
    } else {
      // Corrector: average both slopes, restart from the interval's start.
      const d = this._prevDerivative;
      const x = this._prevSample;
      for (let j = 0; j < prev.length; j++) {
        const vAvg = f32(0.5 * f32(d[j] + v[j]));
        prev[j] = x[j] + f32(this._dt * vAvg);
      }
      this._prevDerivative = this._prevSample = this._dt = null;
    }
    this.stepIndex = i + 1;
    return prev; // Float32Array stores round the final sums to float32
  }
}

/** Classifier-free guidance in float32: v_u + g * (v_c - v_u). */
export function combineGuidance(vCond, vUncond, guidance) {
  const g = f32(guidance);
  const out = new Float32Array(vCond.length);
  for (let j = 0; j < out.length; j++) out[j] = vUncond[j] + f32(g * f32(vCond[j] - vUncond[j]));
  return out;
}
