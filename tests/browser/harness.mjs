// Shared by the browser tests: run inside a network namespace of our own (only `lo` up,
// resolv.conf naming 127.0.0.1: Chromium looks up Google's hosts otherwise), start the
// bridge on loopback with loopback-only ICE, set meetings up through the operator API,
// launch Debian's chromium, and report TAP.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const PORT = 18443;
export const BASE = `https://127.0.0.1:${PORT}`;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn every `every` ms until it returns something true (returned), or ms pass (then its
// last answer; a throw counts as no answer).
export async function until(fn, ms, every = 200) {
  const end = Date.now() + ms;
  let v;
  while (Date.now() < end) {
    v = await fn().catch(() => null);
    if (v) return v;
    await sleep(every);
  }
  return v;
}

// A namespace of ours speaks IPv4 only. Otherwise each veth a test adds gets an IPv6
// link-local address a second or two later (after duplicate address detection), and a
// Chromium loading a page meanwhile fails with ERR_NETWORK_CHANGED (one CI run in many).
export function noIpv6(ns) {
  spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1',
    'net.ipv6.conf.default.disable_ipv6=1'], { stdio: 'inherit' });
}

// A namespace behind a veth pair from the current one: `here` on our end (outerDev), `there`
// on its end (innerDev), both /30; lo up, IPv4 only, a resolv.conf of its own; with route, a
// default route back through us. dropNamespace removes it (the pair goes with it).
export function namespaceBehind(ns, outerDev, innerDev, here, there, { route = false } = {}) {
  sh(['ip', 'netns', 'add', ns]);
  noIpv6(ns);
  sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  sh(['ip', 'link', 'add', outerDev, 'type', 'veth', 'peer', 'name', innerDev, 'netns', ns]);
  sh(['ip', 'addr', 'add', `${here}/30`, 'dev', outerDev]);
  sh(['ip', 'link', 'set', outerDev, 'up']);
  sh(['ip', '-n', ns, 'addr', 'add', `${there}/30`, 'dev', innerDev]);
  sh(['ip', '-n', ns, 'link', 'set', innerDev, 'up']);
  waitRunning(outerDev);
  waitRunning(innerDev, ns);
  if (route) sh(['ip', '-n', ns, 'route', 'add', 'default', 'via', here]);
  mkdirSync(`/etc/netns/${ns}`, { recursive: true });
  writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\n');
}

// A veth pair in the current namespace, `a` and `b` its ends' /30 addresses, up and running.
export function vethPair(devA, devB, a, b) {
  sh(['ip', 'link', 'add', devA, 'type', 'veth', 'peer', 'name', devB]);
  sh(['ip', 'addr', 'add', `${a}/30`, 'dev', devA]);
  sh(['ip', 'addr', 'add', `${b}/30`, 'dev', devB]);
  for (const dev of [devA, devB]) sh(['ip', 'link', 'set', dev, 'up']);
  for (const dev of [devA, devB]) waitRunning(dev);
}

// Returns once a link set up is running (operstate up, IFF_RUNNING). The kernel marks it so
// a while later (its link watch, which runs apart from the request: 0.38 s or more for the
// highland link in endpoint-highland-link), and libnice, as a real box's agent would, takes
// addresses only from running links: an endpoint started 0.2 s after its namespace was made
// found only the loopback, in one first join of two there, and joined again 4 s later.
export function waitRunning(dev, ns = null) {
  const show = ['ip', ...(ns ? ['-n', ns] : []), '-o', 'link', 'show', 'dev', dev];
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 100; i++) {
    if (/ state UP /.test(sh(show))) return;
    Atomics.wait(pause, 0, 0, 50);
  }
  throw new Error(`${dev}${ns ? ` in ${ns}` : ''} is not running 5 s after it was set up: ${sh(show).trim()}`);
}

export function dropNamespace(ns) {
  spawnSync('ip', ['netns', 'delete', ns]);
  rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
}

// Re-runs this script inside a fresh namespace and exits with its status; returns only in
// the inner run.
export function enterNetns(tag) {
  if (process.env.DC_NETNS) return;
  const ns = `${tag}${process.pid}`;
  const run = (args) => spawnSync('ip', args, { stdio: 'inherit' });
  run(['netns', 'add', ns]);
  let status = 1;
  try {
    noIpv6(ns);
    run(['-n', ns, 'link', 'set', 'lo', 'up']);
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\n');
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...process.argv.slice(1)],
      { stdio: 'inherit', env: { ...process.env, DC_NETNS: ns } });
    status = r.status ?? 1;
  } finally {
    run(['netns', 'delete', ns]);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  process.exit(status);
}

// listen: the HTTPS address; ice: the addresses media may use (loopback unless a test made
// links of its own). DC_LOG_LEVEL=debug in the environment shows the bridge's debug log.
// A restart on the same data dir prints no operator key (it is shown once): restart: true.
// args: more of the bridge's options; env: its environment (endpointEnv() for a bridge that
// records, whose GStreamer needs the sanitizer build's full malloc stacks as the endpoint's does).
export function startBridge(exe, dataDir, { listen = '127.0.0.1', ice = ['127.0.0.1'], restart = false, args = [], env = process.env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, ['--data-dir', dataDir, '--listen', listen, '--port', String(PORT),
      ...ice.flatMap((a) => ['--ice-address', a]), '--workers', '2',
      ...(process.env.DC_LOG_LEVEL ? ['--log-level', process.env.DC_LOG_LEVEL] : []), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    // Ready once it has printed the operator key (stdout) and is listening (stderr log).
    let out = '', err = '';
    const ready = () => {
      const m = out.match(/Operator API key \(shown once, keep it\): (\S+)/);
      if ((m || restart) && err.includes('listening on')) resolve({ child, key: m && m[1] });
    };
    child.stderr.on('data', (d) => { err += d; process.stderr.write(`  [bridge] ${d}`); ready(); });
    child.stdout.on('data', (d) => { out += d; ready(); });
    child.on('exit', (code) => reject(new Error(`bridge exited with ${code}`)));
    setTimeout(() => reject(new Error('bridge did not start within 30 s')), 30000);
  });
}

export async function stopBridge(child) {
  child.kill('SIGTERM');
  return new Promise((r) => { child.on('exit', (c, sig) => r(c ?? sig)); setTimeout(() => r('timeout'), 10000); });
}

export async function api(key, method, path, body) {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the bridge's self-signed certificate, on loopback
  const r = await fetch(BASE + path, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

// executable: /usr/bin/chromium, or a wrapper that runs it elsewhere (another namespace).
export function launch(extraArgs = [], executable = '/usr/bin/chromium') {
  return chromium.launch({ executablePath: executable, headless: true, args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection', ...extraArgs] });
}

// timeout: for the page load (a lab link of 64 kbit/s with bursty loss takes its time).
// init: [fn, arg], run in the page before its own scripts (a test's stand-in for a device).
export async function openPage(browser, url, { timeout = 30000, init = null } = {}) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, permissions: ['camera', 'microphone'] });
  if (init) await ctx.addInitScript(...init);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`  [page] ${m.text()}\n`); });
  await page.goto(url, { timeout });
  return page;
}

// DC_TAP_TIMES=1: each check also says on stderr when it was made (where a test's time goes).
export function tap() {
  const results = [];
  const started = Date.now();
  return {
    // A detail is one TAP line: what a process printed may hold newlines.
    check: (ok, name, detail = '') => {
      results.push({ ok, name, detail: String(detail).replace(/\s*\n\s*/g, ' | ') });
      if (process.env.DC_TAP_TIMES) process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)} s: ${name}\n`);
    },
    finish: () => {
      console.log(`1..${results.length}`);
      results.forEach((r, i) => console.log(`${r.ok ? 'ok' : 'not ok'} ${i + 1} ${r.name}${r.detail ? ' # ' + r.detail : ''}`));
      // meson shows only stderr of a failed test: say there what each failed check measured.
      results.forEach((r) => { if (!r.ok) process.stderr.write(`FAILED: ${r.name}: ${r.detail}\n`); });
      process.exit(results.every((r) => r.ok) ? 0 : 1);
    },
  };
}

// The environment to run diemcau-endpoint in. In the sanitizer build its leak check needs
// full malloc stacks to match tests/lsan.supp (GLib's quark table, kept on purpose); the
// normal build ignores the variable.
export function endpointEnv() {
  const asan = process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : '';
  return { ...process.env, ASAN_OPTIONS: `${asan}fast_unwind_on_malloc=0` };
}

// Runs diemcau-endpoint (cmd: its path, or a prefix such as `ip netns exec NS PATH`) with
// args; its --stats lines gather in .stats, its log in .log (and on our stderr, labelled).
// .done resolves with its exit code or signal, also kept in .exit (null while it runs).
export function spawnEndpoint(cmd, args, label) {
  const child = spawn(cmd[0], [...cmd.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: endpointEnv() });
  const ep = { child, stats: [], log: '', exit: null };
  onLines(child.stdout, (line) => {
    try { ep.stats.push(JSON.parse(line)); } catch { ep.log += `bad stats line: ${line}\n`; }
  });
  child.stderr.on('data', (d) => { ep.log += d; process.stderr.write(`  [${label}] ${d}`); });
  ep.done = new Promise((r) => child.on('exit', (code, sig) => { ep.exit = code ?? sig; r(ep.exit); }));
  return ep;
}

// Calls fn with each whole line a child's stream writes (stats as JSON lines, logs).
export function onLines(stream, fn) {
  let buf = '';
  stream.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      fn(line);
    }
  });
}

// Runs a command to its end; its stdout, or an exception with its stderr.
export function sh(args) {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// dB of one frequency in n samples of x from `from` (Goertzel), 48 kHz.
export function goertzelDb(x, from, n, f) {
  const k = 2 * Math.cos(2 * Math.PI * f / 48000);
  let s1 = 0, s2 = 0;
  for (let i = from; i < from + n && i < x.length; i++) {
    const s0 = x[i] + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return 10 * Math.log10(s1 * s1 + s2 * s2 - k * s1 * s2 + 1e-9);
}

// 16-bit mono samples of a WAV, to the end of the file whatever its header says (a recording
// cut short keeps a header that says 0). A WAV in another format throws, naming it: read as
// 48 kHz mono, a 44.1 kHz stereo recording would run 1.84 times the wall clock with its tones
// at the wrong pitch, and fail as if the audio were wrong.
export function wavSamples(path) {
  const b = readFileSync(path);
  const fmt = b.indexOf('fmt '), data = b.indexOf('data');
  if (fmt < 0 || data < 0 || b.length < fmt + 24) return new Int16Array(0); // the header not written yet
  const channels = b.readUInt16LE(fmt + 10), rate = b.readUInt32LE(fmt + 12), bits = b.readUInt16LE(fmt + 22);
  if (channels !== 1 || rate !== 48000 || bits !== 16)
    throw new Error(`${path} holds ${rate} Hz, ${channels} channel(s), ${bits}-bit audio, not the 48000 Hz mono 16-bit the endpoint records`);
  const at = data + 8;
  const x = new Int16Array(Math.max(0, Math.floor((b.length - at) / 2)));
  for (let i = 0; i < x.length; i++) x[i] = b.readInt16LE(at + 2 * i);
  return x;
}

// Samples a WAV that is still being written holds now: the end of what an endpoint recorded
// before it was told to leave (what it writes after, while the others leave, is silence).
export function wavSamplesNow(path) {
  try { return wavSamples(path).length; } catch (e) { if (e.code === 'ENOENT') return 0; throw e; }
}

// Average level (dBFS, the peak of the FFT bins within two of each tone) of each frequency in
// what a page receives, over two seconds (WebAudio analyser on the received track).
export async function pageTonesDb(page, tones) {
  return page.evaluate(async (freqs) => {
    const track = window.diemcau.pc.getReceivers().find((r) => r.track && r.track.kind === 'audio').track;
    const ctx = new AudioContext();
    await ctx.resume();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 16384;
    analyser.smoothingTimeConstant = 0;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const data = new Float32Array(analyser.frequencyBinCount);
    const sums = freqs.map(() => 0);
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatFrequencyData(data);
      freqs.forEach((f, k) => {
        const bin = Math.round(f / (ctx.sampleRate / analyser.fftSize));
        let peak = -200;
        for (let b = bin - 2; b <= bin + 2; b++) peak = Math.max(peak, data[b]);
        sums[k] += peak;
      });
    }
    return sums.map((x) => x / rounds);
  }, tones);
}

// Debian's firefox-esr, headless, driven over WebDriver BiDi (Playwright's own Firefox build
// is not Debian's, and its BiDi client asks for commands this ESR lacks). A profile of our own:
// fake camera and microphone allowed, loopback ICE candidates (the browser tests' media stays
// on 127.0.0.1), nothing that calls home. Returns { evaluate(fn, arg, ms), close() }: fn runs
// in the page, awaited, and its result comes back through JSON (an error after ms, 10 s).
export async function firefoxPage(url, profileDir, { timeout = 60000 } = {}) {
  const { ws: WebSocket } = await import('playwright-core/lib/utilsBundle');
  const prefs = {
    'media.navigator.streams.fake': true, 'media.navigator.permission.disabled': true,
    'permissions.default.microphone': 1, 'permissions.default.camera': 1,
    'media.peerconnection.ice.loopback': true, 'media.peerconnection.ice.obfuscate_host_addresses': false,
    'media.autoplay.default': 0, 'app.update.enabled': false, 'browser.shell.checkDefaultBrowser': false,
    'datareporting.policy.dataSubmissionEnabled': false, 'toolkit.telemetry.enabled': false,
    'network.captive-portal-service.enabled': false, 'network.connectivity-service.enabled': false,
    'browser.safebrowsing.malware.enabled': false, 'browser.safebrowsing.phishing.enabled': false,
    'extensions.update.enabled': false, 'browser.startup.homepage_override.mstone': 'ignore',
  };
  mkdirSync(profileDir, { recursive: true });
  writeFileSync(`${profileDir}/user.js`,
    Object.entries(prefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join('\n') + '\n');
  const child = spawn('/usr/bin/firefox-esr', ['--headless', '--no-remote', '--profile', profileDir,
    '--remote-debugging-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const endpoint = await new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/WebDriver BiDi listening on (ws:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`firefox-esr exited with ${code}: ${err.slice(-500)}`)));
    setTimeout(() => reject(new Error(`firefox-esr gave no BiDi endpoint within 30 s: ${err.slice(-500)}`)), 30000);
  });
  const socket = new WebSocket(`${endpoint}/session`);
  await new Promise((resolve, reject) => { socket.on('open', resolve); socket.on('error', reject); });
  let next = 0;
  const waiting = new Map();
  socket.on('message', (data) => {
    const m = JSON.parse(String(data));
    const w = m.id !== undefined && waiting.get(m.id);
    if (!w) return; // events
    waiting.delete(m.id);
    clearTimeout(w.timer);
    if (m.type === 'error') w.reject(new Error(`${m.error}: ${m.message}`));
    else w.resolve(m.result);
  });
  const send = (method, params, ms = timeout) => new Promise((resolve, reject) => {
    const id = ++next;
    const timer = setTimeout(() => { if (waiting.delete(id)) reject(new Error(`${method}: Firefox gave no answer within ${ms} ms`)); }, ms);
    waiting.set(id, { resolve, reject, timer });
    socket.send(JSON.stringify({ id, method, params }));
  });
  await send('session.new', { capabilities: { alwaysMatch: { acceptInsecureCerts: true } } });
  const tree = await send('browsingContext.getTree', {});
  const context = tree.contexts[0].context;
  await send('browsingContext.navigate', { context, url, wait: 'complete' });
  return {
    async evaluate(fn, arg, ms = 10000) {
      const r = await send('script.evaluate', { expression: `(async () => JSON.stringify(await (${fn})(${JSON.stringify(arg)})))()`,
        target: { context }, awaitPromise: true, resultOwnership: 'none' }, ms);
      if (r.type === 'exception') throw new Error(`in Firefox: ${r.exceptionDetails.text}`);
      return JSON.parse(r.result.value ?? 'null');
    },
    async close() {
      await send('session.end', {}).catch(() => {});
      socket.close();
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null) r(); else { child.on('exit', r); setTimeout(r, 5000); } });
    },
  };
}
