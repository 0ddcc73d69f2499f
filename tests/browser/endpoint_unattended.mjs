// Unattended mode (issue 11): a meeting-room box that nobody operates. An operator makes a
// point and its device key; the endpoint starts with a config file (bridge, device key,
// pinned certificate) before any meeting exists and waits; the operator schedules a meeting
// that opens a few seconds later; the endpoint joins by itself when it opens. The bridge is
// stopped and started again mid-meeting: the endpoint is back in the meeting by itself, and
// the test measures how long after the bridge listened again. The operator ends the meeting:
// the endpoint leaves and waits for the next one, still running. A wrong device key and a
// config without one end with their own exit codes. In a network namespace of the test's own
// with a veth pair (webrtcbin gathers no loopback candidates).
//
// Usage: node endpoint_unattended.mjs BRIDGE_EXECUTABLE ENDPOINT_EXECUTABLE. Prints TAP.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PORT, api, endpointEnv, enterNetns, onLines, sh, sleep, startBridge, stopBridge, tap, vethPair } from './harness.mjs';

const [bridgeExe, endpointExe] = process.argv.slice(2);
enterNetns('dcunatt');
const { check, finish } = tap();
const HERE = '10.82.0.1';


// The endpoint with its log lines timestamped, and its stats lines.
function startEndpoint(args) {
  const child = spawn(endpointExe, args, { stdio: ['ignore', 'pipe', 'pipe'], env: endpointEnv() });
  const ep = { child, lines: [], stats: [], exit: null };
  onLines(child.stdout, (line) => {
    try { ep.stats.push({ at: Date.now(), ...JSON.parse(line) }); } catch { /* not a stats line */ }
  });
  onLines(child.stderr, (line) => {
    if (line.startsWith('diemcau-endpoint')) process.stderr.write(`  [endpoint] ${line}\n`);
    ep.lines.push({ at: Date.now(), line });
  });
  ep.done = new Promise((r) => child.on('exit', (code, sig) => { ep.exit = code ?? sig; r(ep.exit); }));
  return ep;
}

// The first log line at or after `since` that contains `text`, waiting at most `ms`.
async function logLine(ep, text, since, ms) {
  for (const until = Date.now() + ms; Date.now() < until;) {
    const hit = ep.lines.find((l) => l.at >= since && l.line.includes(text));
    if (hit) return hit;
    if (ep.exit !== null) return null;
    await sleep(100);
  }
  return null;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-unattended-'));
  vethPair('dcU0', 'dcU1', HERE, '10.82.0.2');
  const data = join(dir, 'data');
  const opts = { listen: '0.0.0.0', ice: ['127.0.0.1', HERE] };
  let bridge = await startBridge(bridgeExe, data, opts);
  const key = bridge.key;
  const fp = sh(['openssl', 'x509', '-in', join(data, 'tls-cert.pem'), '-noout', '-fingerprint', '-sha256']).split('=')[1].trim();
  const eps = [];
  try {
    const point = await api(key, 'POST', '/api/points', { name: 'Hội trường xã Ân Sơn', kind: 'commune', link_profile: 'standard' });
    const { device_key: deviceKey } = await api(key, 'POST', `/api/points/${point.id}/device-key`);
    const conf = (k) => {
      const path = join(dir, `endpoint-${eps.length}.conf`);
      writeFileSync(path, `[endpoint]\nbridge=https://127.0.0.1:${PORT}/\n${k === null ? '' : `device-key=${k}\n`}pin=${fp}\n` +
        'name=Máy hội trường\naudio-source=test:440\nvideo-source=test\naudio-sink=fake\nvideo-sink=fake\nstats=true\n', { mode: 0o600 });
      return path;
    };
    const ep = startEndpoint(['--config', conf(deviceKey)]);
    eps.push(ep);
    const waiting = await logLine(ep, 'no meeting open', 0, 15000);
    check(waiting !== null, 'started before any meeting, the endpoint waits and says so', waiting ? waiting.line : ep.lines.map((l) => l.line).join(' | '));

    // A meeting that opens in 5 s.
    const startsAt = Math.floor(Date.now() / 1000) + 5;
    // open_before_s 0: this checks it joins when the meeting opens, so make that its start
    const meeting = await api(key, 'POST', '/api/meetings', { title: 'Giao ban sáng', starts_at: startsAt, ends_at: startsAt + 600, open_before_s: 0 });
    await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: point.id, role: 'participant' });
    const joining = await logLine(ep, 'is open for', 0, 30000);
    const connected = await logLine(ep, 'media connected', 0, 30000);
    const late = joining ? (joining.at - startsAt * 1000) / 1000 : NaN;
    check(joining !== null && late > -1 && late < 8 && connected !== null,
      'the endpoint joins by itself when the meeting opens (not before), and its media connects',
      `joining ${late.toFixed(1)} s after the start; ${joining ? joining.line : 'never'}; ${connected ? 'media connected' : 'no media'}`);

    // The bridge goes away and comes back on the same data: the endpoint returns by itself.
    check((await stopBridge(bridge.child)) === 0, 'the bridge stops cleanly mid-meeting');
    await sleep(2000); // a power cut at the district: the boxes keep trying meanwhile
    bridge = await startBridge(bridgeExe, data, { ...opts, restart: true });
    const back = Date.now();
    const rejoined = await logLine(ep, 'joined as', back, 20000);
    const reconnected = await logLine(ep, 'media connected', back, 20000);
    const secs = (l) => (l ? ((l.at - back) / 1000).toFixed(1) : 'never');
    // Measured: about 1-2 s to join and 2-3 s to media in both builds (backoff at most 1.2 s).
    check(rejoined !== null && reconnected !== null && reconnected.at - back < 5000,
      'after a bridge restart the endpoint is back in the meeting within 5 s of the bridge listening',
      `joined ${secs(rejoined)} s, media connected ${secs(reconnected)} s after the bridge listened`);

    // The operator ends the meeting: the endpoint leaves and waits for the next.
    const endAt = Date.now();
    await api(key, 'POST', `/api/meetings/${meeting.id}/end`);
    const over = await logLine(ep, 'meeting is over', endAt, 15000);
    const waitingAgain = await logLine(ep, 'no meeting open', endAt, 15000);
    check(over !== null && waitingAgain !== null && ep.exit === null,
      'when the operator ends the meeting the endpoint leaves it and waits for the next, still running',
      `${over ? over.line : 'no "meeting is over"'}; ${waitingAgain ? waitingAgain.line : 'not waiting'}; exit ${ep.exit}`);

    ep.child.kill('SIGTERM');
    const code = await Promise.race([ep.done, sleep(10000).then(() => 'hung')]);
    check(code === 0, 'the endpoint stops cleanly on SIGTERM', `exit ${code}`);

    const wrong = startEndpoint(['--config', conf('dk.not-a-key')]);
    eps.push(wrong);
    const wrongCode = await Promise.race([wrong.done, sleep(20000).then(() => 'hung')]);
    check(wrongCode === 5 && wrong.lines.some((l) => l.line.includes('does not know this device key')),
      'a device key the bridge does not know: exit 5, saying so', `exit ${wrongCode}: ${wrong.lines.map((l) => l.line).join(' | ').slice(0, 300)}`);
    const none = startEndpoint(['--config', conf(null)]);
    eps.push(none);
    const noneCode = await Promise.race([none.done, sleep(20000).then(() => 'hung')]);
    check(noneCode === 2 && none.lines.some((l) => l.line.includes('device-key=')), 'a config file without a device key: exit 2, saying what it needs',
      `exit ${noneCode}: ${none.lines.map((l) => l.line).join(' | ').slice(0, 300)}`);
    check(!ep.lines.concat(wrong.lines).some((l) => l.line.includes(deviceKey) || l.line.includes('not-a-key')),
      'the device key never appears in what the endpoint prints', '');
  } finally {
    for (const e of eps) if (e.exit === null) e.child.kill('SIGKILL');
    check((await stopBridge(bridge.child)) === 0, 'the bridge stops cleanly on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to its end', String(e && e.stack || e))).finally(finish);
