// Measured speech for the link lab: Vietnamese meeting sentences made with espeak-ng, and a
// measure of what a receiver heard against what was sent.
//
// The quality number is the mean log-spectral distance (LSD, dB) between the sent and the
// received speech, aligned: both at 16 kHz, cut in 20 ms frames (Hann window, 512-point
// FFT), and for each frame where the sent speech is voiced (within 30 dB of its loudest
// frame) the root-mean-square difference of the two 10·log10 power spectra over 100 Hz–7 kHz,
// each spectrum normalised by the frame's gain so that a level change alone costs nothing.
// 0 dB is a perfect copy; codec coding at 14–48 kbit/s gives a few dB; lost frames that were
// concealed or muted add much more. selfCheck() shows it orders clean < lossy < very lossy.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const SENTENCES = [
  'Kính thưa các đồng chí đại biểu, hôm nay chúng ta họp giao ban tuần.',
  'Đề nghị các xã báo cáo tình hình sản xuất nông nghiệp và phòng chống thiên tai.',
  'Xã Tà Xùa đã hoàn thành tiêm phòng cho đàn gia súc trong tháng này.',
  'Ủy ban nhân dân huyện yêu cầu các điểm cầu giữ đường truyền ổn định.',
];

// A 48 kHz mono 16-bit WAV of the sentences at path (espeak-ng, voice vi, then sox), with
// pauseS of silence after them (the pause before each repetition).
export function makeSpeechWav(path, tmp, pauseS = 0.5) {
  const raw = `${tmp}/speech-22k.wav`;
  let r = spawnSync('espeak-ng', ['-v', 'vi', '-s', '150', '-g', '8', '-w', raw, SENTENCES.join(' ')]);
  if (r.status !== 0) throw new Error(`espeak-ng failed: ${r.stderr}`);
  r = spawnSync('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', path, 'pad', '0', String(pauseS)]);
  if (r.status !== 0) throw new Error(`sox failed: ${r.stderr}`);
}

export function wavToFloat(path) {
  const b = readFileSync(path);
  const at = b.indexOf('data') + 8;
  const n = Math.floor((b.length - at) / 2);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = b.readInt16LE(at + 2 * i) / 32768;
  return x;
}

// 48 kHz to 16 kHz: the mean of each three samples (a crude low-pass; speech is below 7 kHz).
export function to16k(x) {
  const y = new Float32Array(Math.floor(x.length / 3));
  for (let i = 0; i < y.length; i++) y[i] = (x[3 * i] + x[3 * i + 1] + x[3 * i + 2]) / 3;
  return y;
}

function fftPower(frame) { // 512-point real FFT by a plain radix-2 transform; returns 257 bins
  const N = 512, re = new Float64Array(N), im = new Float64Array(N);
  for (let i = 0; i < frame.length && i < N; i++) re[i] = frame[i] * (0.5 - 0.5 * Math.cos(2 * Math.PI * i / (frame.length - 1)));
  for (let i = 1, j = 0; i < N; i++) {
    let bit = N >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
  }
  for (let len = 2; len <= N; len <<= 1) {
    const a = -2 * Math.PI / len;
    for (let i = 0; i < N; i += len)
      for (let k = 0; k < len / 2; k++) {
        const c = Math.cos(a * k), s = Math.sin(a * k);
        const ur = re[i + k], ui = im[i + k];
        const vr = re[i + k + len / 2] * c - im[i + k + len / 2] * s, vi = re[i + k + len / 2] * s + im[i + k + len / 2] * c;
        re[i + k] = ur + vr; im[i + k] = ui + vi;
        re[i + k + len / 2] = ur - vr; im[i + k + len / 2] = ui - vi;
      }
  }
  const p = new Float64Array(N / 2 + 1);
  for (let i = 0; i <= N / 2; i++) p[i] = re[i] * re[i] + im[i] * im[i];
  return p;
}

const FRAME = 320; // 20 ms at 16 kHz

function energy(x, from, n) {
  let e = 0;
  for (let i = from; i < from + n && i < x.length; i++) e += x[i] * x[i];
  return e;
}

// Where in ref (16 kHz, looped) the received signal rec (16 kHz) starts: the lag of the
// best normalised correlation of their 10 ms energy envelopes, then refined sample by
// sample within ±10 ms. Returns { lag, score } (score: the envelope correlation, 0..1).
export function align(ref, rec) {
  const env = (x, n) => { const e = new Float64Array(Math.floor(n / 160)); for (let i = 0; i < e.length; i++) e[i] = Math.sqrt(energy(x, i * 160, 160)); return e; };
  const loops = 2 + Math.ceil(rec.length / ref.length);
  const refLoop = new Float32Array(ref.length * loops);
  for (let k = 0; k < loops; k++) refLoop.set(ref, k * ref.length);
  const er = env(refLoop, refLoop.length), ex = env(rec, rec.length);
  let best = -1, bestLag = 0;
  const period = Math.floor(ref.length / 160);
  for (let lag = 0; lag < period; lag++) {
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < ex.length && lag + i < er.length; i++) { sxy += ex[i] * er[lag + i]; sxx += ex[i] * ex[i]; syy += er[lag + i] * er[lag + i]; }
    const c = sxy / Math.sqrt(sxx * syy + 1e-12);
    if (c > best) { best = c; bestLag = lag; }
  }
  let fine = bestLag * 160, bestFine = -Infinity;
  const span = Math.min(rec.length, 16000 * 8);
  for (let d = -160; d <= 160; d++) {
    const lag = bestLag * 160 + d;
    if (lag < 0) continue;
    let s = 0;
    for (let i = 0; i < span; i += 2) s += rec[i] * refLoop[lag + i];
    if (s > bestFine) { bestFine = s; fine = lag; }
  }
  return { lag: fine % ref.length, score: best, refLoop };
}

// Where a received piece of speech (rec, 16 kHz) starts in a longer recording of what was
// sent (sent, 16 kHz, begun earlier): its lag in samples (at most maxLag), or null when
// nothing fits well.
export function lagOf(sent, rec, maxLag = Infinity) {
  const env = (x) => { const e = new Float64Array(Math.floor(x.length / 160)); for (let i = 0; i < e.length; i++) e[i] = Math.sqrt(energy(x, i * 160, 160)); return e; };
  const es = env(sent), er = env(rec);
  let best = -1, bestLag = -1;
  for (let lag = 0; lag + er.length <= es.length && lag * 160 <= maxLag; lag++) {
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < er.length; i++) { sxy += er[i] * es[lag + i]; sxx += er[i] * er[i]; syy += es[lag + i] * es[lag + i]; }
    const c = sxy / Math.sqrt(sxx * syy + 1e-12);
    if (c > best) { best = c; bestLag = lag; }
  }
  if (best < 0.5) return null;
  return localLag(sent, rec, 0, Math.min(rec.length, 16000 * 4), bestLag * 160, 160);
}

// The best lag of rec[from, from + n) in refLoop near `around` (±`reach` samples): by 10 ms
// energy envelopes first, then sample by sample within ±10 ms.
function localLag(refLoop, rec, from, n, around, reach) {
  const envAt = (x, at) => Math.sqrt(energy(x, at, 160));
  const ex = [];
  for (let i = 0; i + 160 <= n; i += 160) ex.push(envAt(rec, from + i));
  let best = -Infinity, coarse = around;
  for (let lag = Math.max(0, around - reach); lag <= around + reach; lag += 80) {
    let sxy = 0, syy = 0;
    for (let i = 0; i < ex.length; i++) { const y = envAt(refLoop, lag + i * 160); sxy += ex[i] * y; syy += y * y; }
    const c = sxy / Math.sqrt(syy + 1e-12);
    if (c > best) { best = c; coarse = lag; }
  }
  let fine = coarse, bestFine = -Infinity;
  for (let d = -160; d <= 160; d++) {
    const lag = coarse + d;
    if (lag < 0) continue;
    let s = 0;
    for (let i = 0; i < n; i += 2) s += rec[from + i] * refLoop[lag + i];
    if (s > bestFine) { bestFine = s; fine = lag; }
  }
  return fine;
}

// The mean log-spectral distance (dB) of rec against ref over the voiced frames of ref, and
// how many were voiced. Alignment is found once for the whole recording, then again for each
// second within ±120 ms of the last, since a receiver's playout delay moves as its jitter
// buffer adapts (a fixed alignment would count that drift as distortion); a second heard as a
// pause keeps the last.
export function lsd(ref, rec) {
  const { lag: start, score, refLoop } = align(ref, rec);
  const frames = Math.floor(rec.length / FRAME) - 1;
  let loudest = 0, loudestHeard = 0;
  const heard = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    loudest = Math.max(loudest, energy(refLoop, start + f * FRAME, FRAME));
    heard[f] = energy(rec, f * FRAME, FRAME);
    loudestHeard = Math.max(loudestHeard, heard[f]);
  }
  // A second heard as a pause has nothing to align by: every lag fits it alike, and taking one
  // would carry the alignment off by up to 130 ms a second of silence, past the reach of the
  // next second's search (Chromium plays a quiet mix as digital zeros). It keeps the last lag.
  const sounds = (f) => { let n = 0; for (let g = f; g < f + 50; g++) n += heard[g] >= loudestHeard * 1e-3; return n >= 10; };
  const lo = Math.round(100 / (16000 / 512)), hi = Math.round(7000 / (16000 / 512));
  let sum = 0, voiced = 0, lag = start;
  for (let f = 0; f < frames; f++) {
    if (f % 50 === 0 && (f + 50) * FRAME <= rec.length && f + 50 <= frames && sounds(f))
      lag = localLag(refLoop, rec, f * FRAME, 50 * FRAME, lag + f * FRAME, 1920) - f * FRAME;
    const at = lag + f * FRAME;
    if (at < 0 || at + FRAME > refLoop.length || energy(refLoop, at, FRAME) < loudest * 1e-3) continue;
    const pr = fftPower(refLoop.subarray(at, at + FRAME)), px = fftPower(rec.subarray(f * FRAME, (f + 1) * FRAME));
    let gr = 0, gx = 0;
    for (let k = lo; k <= hi; k++) { gr += pr[k]; gx += px[k]; }
    let d2 = 0;
    for (let k = lo; k <= hi; k++) {
      const a = 10 * Math.log10(pr[k] / gr + 1e-10), b = 10 * Math.log10(px[k] / (gx + 1e-20) + 1e-10);
      d2 += (a - b) * (a - b);
    }
    sum += Math.sqrt(d2 / (hi - lo + 1));
    voiced++;
  }
  return { lsd: voiced ? sum / voiced : Infinity, voiced, align: score, lagMs: start / 16 };
}

// The measure on known inputs: the speech itself, then with 5 % and 20 % of its 20 ms frames
// replaced by silence (seeded); they must rise in that order. Fourth, the speech with 40 ms of
// silence inserted after 4 s (a jitter buffer growing): it must stay well below the 5 % case;
// and so must the fifth (below).
export function selfCheck(speech16k) {
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const damaged = (share) => {
    const y = Float32Array.from(speech16k);
    for (let f = 0; f < y.length / FRAME; f++) if (rnd() < share) y.fill(0, f * FRAME, (f + 1) * FRAME);
    return y;
  };
  const start = 8000; // received audio starts anywhere in the loop
  const cut = (x) => x.subarray(start, start + 16000 * 8);
  const stretched = new Float32Array(16000 * 8);
  stretched.set(speech16k.subarray(start, start + 16000 * 4));
  stretched.set(speech16k.subarray(start + 16000 * 4, start + 16000 * 8 - 640), 16000 * 4 + 640);
  // Fifth, a long pause: the speech followed by 3 s of silence, heard as digital zeros (as
  // Chromium plays a quiet mix) and 20 ms later after it (the playout moved meanwhile).
  const paused = new Float32Array(speech16k.length + 16000 * 3);
  paused.set(speech16k);
  const heard = new Float32Array(16000 * 10);
  const before = 16000 * 3; // the last 3 s of the speech, then the pause, then it again
  heard.set(paused.subarray(paused.length - before - 16000 * 3));
  heard.set(speech16k.subarray(0, heard.length - before - 16000 * 3 - 320), before + 16000 * 3 + 320);
  return [lsd(speech16k, cut(speech16k)).lsd, lsd(speech16k, cut(damaged(0.05))).lsd, lsd(speech16k, cut(damaged(0.2))).lsd,
    lsd(speech16k, stretched).lsd, lsd(paused, heard).lsd];
}
