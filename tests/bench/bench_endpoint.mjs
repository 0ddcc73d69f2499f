// bench_endpoint: what the endpoint costs a highland box (issue 11). In namespaces of its own:
// the bridge, a district endpoint (standard profile, tone and test video) and the endpoint
// under test in a namespace of its own behind a veth pair, so its bytes on the wire (IP, UDP,
// SRTP, RTCP, signaling: everything) are the veth's counters. The endpoint under test plays
// a tone and a 320x180 test camera and plays the mix to a fake sink, for SECONDS (default 60)
// after its media connects. Rows: the compact build on the highland profile with video and
// audio-only, and the hall profile for comparison. Measured: CPU as % of one core (utime +
// stime over the window), peak RSS (VmHWM), kbit/s up and down on the wire. Goals (issue 11):
// highland <= 25 % of a core, <= 60 MB, <= 32 kbit/s up audio-only, <= 128 kbit/s up with video.
// Prints a table and one JSON line; it never fails a test run (the goals are shown, not asserted).
//
// Usage: node bench_endpoint.mjs BRIDGE COMPACT_ENDPOINT ENDPOINT [SECONDS]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, dropNamespace, endpointEnv, enterNetns, namespaceBehind, onLines, PORT, sh, sleep, startBridge, stopBridge, vethPair } from '../browser/harness.mjs';

const [bridgeExe, compactExe, endpointExe, secondsArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg || process.env.BENCH_SECONDS || 60);
enterNetns('dcbench');
const HERE = '10.83.0.1', THERE = '10.83.0.2', FAST = '10.83.1.1';
const CLK_TCK = 100;


function makeLinks(ns) {
  namespaceBehind(ns, 'dcB0', 'dcB1', HERE, THERE);
  vethPair('dcBF0', 'dcBF1', FAST, '10.83.1.2');
}

const wire = (ns) => ({
  tx: Number(sh(['ip', 'netns', 'exec', ns, 'cat', '/sys/class/net/dcB1/statistics/tx_bytes'])),
  rx: Number(sh(['ip', 'netns', 'exec', ns, 'cat', '/sys/class/net/dcB1/statistics/rx_bytes'])),
});

// utime + stime (ticks) and peak RSS (kB) of a process.
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { ticks: Number(f[11]) + Number(f[12]), hwmKb: hwm ? Number(hwm[1]) : 0 };
}

function startEndpoint(cmd, args) {
  const child = spawn(cmd[0], [...cmd.slice(1), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: endpointEnv() });
  const ep = { child, last: null, log: '' };
  onLines(child.stdout, (line) => {
    try { ep.last = JSON.parse(line); } catch { /* not a stats line */ }
  });
  child.stderr.on('data', (d) => { ep.log += d; });
  ep.done = new Promise((r) => child.on('exit', r));
  return ep;
}

// The endpoint's own pid: `ip netns exec` execs it, so the child's pid is the endpoint's.
async function measure(name, exe, extra, bridge, fp, meetingId, ns) {
  const point = await api(bridge.key, 'POST', '/api/points', { name: `Điểm ${name}`, kind: 'commune', link_profile: 'highland' });
  const inv = await api(bridge.key, 'POST', `/api/meetings/${meetingId}/invitations`, { point_id: point.id });
  const link = inv.join_link.replace(/^https:\/\/[^/]+/, `https://${HERE}:${PORT}`);
  const ep = startEndpoint(['ip', 'netns', 'exec', ns, exe], ['--link', link, '--pin', fp, '--name', name,
    '--audio-source', 'test:440', '--video-source', 'test', '--audio-sink', 'fake', '--video-sink', 'fake', '--stats', ...extra]);
  for (let t = 0; t < 120 && !(ep.last && ep.last.connected); t++) await sleep(500);
  if (!(ep.last && ep.last.connected)) {
    ep.child.kill('SIGKILL');
    return { name, error: `never connected: ${ep.log.slice(-300)}` };
  }
  await sleep(3000); // past the start's key frames and probing
  const w0 = wire(ns), u0 = usage(ep.child.pid), t0 = Date.now();
  await sleep(SECONDS * 1000);
  const w1 = wire(ns), u1 = usage(ep.child.pid), secs = (Date.now() - t0) / 1000;
  const fps = ep.last.fps && ep.last.fps.length ? ep.last.fps[0] : null; // null: no video slot (audio-only)
  ep.child.kill('SIGTERM');
  await Promise.race([ep.done, sleep(10000)]);
  return {
    name, seconds: Math.round(secs),
    cpu_percent: +(((u1.ticks - u0.ticks) / CLK_TCK / secs) * 100).toFixed(1),
    rss_mb: +(u1.hwmKb / 1024).toFixed(1),
    up_kbps: +(((w1.tx - w0.tx) * 8) / 1000 / secs).toFixed(1),
    down_kbps: +(((w1.rx - w0.rx) * 8) / 1000 / secs).toFixed(1),
    fps_received: fps,
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-bench-endpoint-'));
  const ns = `${process.env.DC_NETNS}e`;
  let bridge, district;
  const rows = [];
  try {
    makeLinks(ns);
    bridge = await startBridge(bridgeExe, join(dir, 'data'), { listen: '0.0.0.0', ice: [HERE, FAST] });
    const fp = sh(['openssl', 'x509', '-in', join(dir, 'data', 'tls-cert.pem'), '-noout', '-fingerprint', '-sha256']).split('=')[1].trim();
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(bridge.key, 'POST', '/api/meetings', { title: 'Đo', starts_at: now, ends_at: now + 7200 });
    const hall = await api(bridge.key, 'POST', '/api/points', { name: 'Huyện', kind: 'hall', link_profile: 'highland' });
    const inv = await api(bridge.key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: hall.id, role: 'host' });
    // the district sends at the highland rate, so its video reaches a highland receiver
    district = startEndpoint([endpointExe], ['--link', inv.join_link.replace(/^https:\/\/[^/]+/, `https://127.0.0.1:${PORT}`),
      '--pin', fp, '--name', 'Huyện', '--profile', 'highland', '--audio-source', 'test:1000', '--video-source', 'test',
      '--audio-sink', 'fake', '--video-sink', 'fake', '--stats']);
    rows.push(await measure('compact highland', compactExe, [], bridge, fp, meeting.id, ns));
    rows.push(await measure('compact highland audio-only', compactExe, ['--audio-only'], bridge, fp, meeting.id, ns));
    rows.push(await measure('full hall', endpointExe, ['--profile', 'hall'], bridge, fp, meeting.id, ns));
  } finally {
    if (district) district.child.kill('SIGTERM');
    if (bridge) await stopBridge(bridge.child);
    dropNamespace(ns);
    rmSync(dir, { recursive: true, force: true });
  }
  const goals = { cpu_percent: 25, rss_mb: 60, up_kbps_audio_only: 32, up_kbps_video: 128 };
  console.log(`bench_endpoint: ${SECONDS} s per row after media connected; goals (highland): cpu <= ${goals.cpu_percent} % of a core, ` +
    `rss <= ${goals.rss_mb} MB, up <= ${goals.up_kbps_audio_only} kbit/s audio-only, <= ${goals.up_kbps_video} kbit/s with video`);
  console.log('| row | cpu % of a core | peak RSS MB | up kbit/s (wire) | down kbit/s (wire) | fps received |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows)
    console.log(r.error ? `| ${r.name} | ${r.error} |` : `| ${r.name} | ${r.cpu_percent} | ${r.rss_mb} | ${r.up_kbps} | ${r.down_kbps} | ${r.fps_received ?? '—'} |`);
  const hl = rows.find((r) => r.name === 'compact highland'), ao = rows.find((r) => r.name === 'compact highland audio-only'),
    hall = rows.find((r) => r.name === 'full hall');
  if (hl && hall && !hl.error && !hall.error)
    console.log(`ratios hall/highland: cpu ${(hall.cpu_percent / hl.cpu_percent).toFixed(1)}x, up ${(hall.up_kbps / hl.up_kbps).toFixed(1)}x`);
  const met = hl && ao && !hl.error && !ao.error ? {
    cpu: hl.cpu_percent <= goals.cpu_percent, rss: hl.rss_mb <= goals.rss_mb,
    up_audio_only: ao.up_kbps <= goals.up_kbps_audio_only, up_video: hl.up_kbps <= goals.up_kbps_video,
  } : null;
  console.log(JSON.stringify({ bench: 'endpoint', seconds: SECONDS, goals, rows, goals_met: met }));
}

main().catch((e) => { console.error(e); process.exit(1); });
