// The link lab's plumbing, shared by its test and its by-hand runs: a point's namespace joined
// to ours (the district's, where the bridge runs) through a middle namespace where linkem
// plays the link.
//
//   ours: dcLd 10.83.0.1/24 ── dcLm1 [mid: linkem] dcLm2 ── dcLp 10.83.0.2/24 :point
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noIpv6, onLines, sh, waitRunning } from '../browser/harness.mjs';

export const DISTRICT = '10.83.0.1', POINT = '10.83.0.2';

// Makes the namespaces and links; returns { mid, point, wrapper(dir) } where wrapper writes a
// script that runs Chromium in the point's namespace.
export function makeLab(tag) {
  const mid = `${tag}m`, point = `${tag}p`;
  for (const ns of [mid, point]) {
    sh(['ip', 'netns', 'add', ns]);
    noIpv6(ns);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  sh(['ip', 'link', 'add', 'dcLd', 'type', 'veth', 'peer', 'name', 'dcLm1', 'netns', mid]);
  sh(['ip', '-n', point, 'link', 'add', 'dcLp', 'type', 'veth', 'peer', 'name', 'dcLm2', 'netns', mid]);
  sh(['ip', 'addr', 'add', `${DISTRICT}/24`, 'dev', 'dcLd']);
  sh(['ip', '-n', point, 'addr', 'add', `${POINT}/24`, 'dev', 'dcLp']);
  // Offloads off: linkem copies frames as they are, so their checksums must be complete and
  // no TCP segment may be larger than the link's MTU.
  for (const [ns, dev] of [[null, 'dcLd'], [mid, 'dcLm1'], [mid, 'dcLm2'], [point, 'dcLp']]) {
    const pre = ns ? ['ip', 'netns', 'exec', ns] : [];
    sh([...(ns ? ['ip', '-n', ns] : ['ip']), 'link', 'set', dev, 'up']);
    sh([...pre, 'ethtool', '-K', dev, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  }
  for (const [ns, dev] of [[null, 'dcLd'], [mid, 'dcLm1'], [mid, 'dcLm2'], [point, 'dcLp']]) waitRunning(dev, ns);
  mkdirSync(`/etc/netns/${point}`, { recursive: true });
  writeFileSync(`/etc/netns/${point}/resolv.conf`, 'nameserver 127.0.0.1\n');
  return {
    mid, point,
    wrapper(dir) {
      const path = join(dir, 'chromium-point');
      writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${point} /usr/bin/chromium "$@"\n`);
      chmodSync(path, 0o755);
      return path;
    },
  };
}

export function dropLab(lab) {
  for (const ns of [lab.mid, lab.point]) spawnSync('ip', ['netns', 'delete', ns]);
  rmSync(`/etc/netns/${lab.point}`, { recursive: true, force: true });
}

// Starts linkem in the middle namespace; resolves once it relays. The returned object
// collects its JSON lines (stats by direction, outage events) and can take the link down
// and up (SIGUSR1/SIGUSR2) and stop it (resolving with the final statistics).
// noSchedule: the scenario's timed outage is left out (the caller takes its own by signal).
export function startLinkem(exe, lab, scenario, { seed = 1, set = [], noSchedule = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', lab.mid, exe, scenario, '--a', 'dcLm1', '--b', 'dcLm2',
      '--seed', String(seed), '--stats-every', '1', ...set.flatMap((s) => ['--set', s]), ...(noSchedule ? ['--no-schedule'] : []),
      ...(process.env.DC_LAB_LOG_DROPS ? ['--log-drops'] : []),
      ...(process.env.DC_LAB_LOG_BACKLOG ? ['--log-backlog', process.env.DC_LAB_LOG_BACKLOG] : [])],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const link = { child, lines: [], final: {}, latest: {} };
    onLines(child.stdout, (line) => {
      try {
        const o = JSON.parse(line);
        link.lines.push(o);
        if (o.event === 'ready') resolve(link);
        if (o.event === 'stats') link.latest[o.direction] = o;
        if (o.event === 'stats' && o.final) link.final[o.direction] = o;
        if (o.event === 'queue_drop' || o.event === 'lost' || o.event === 'backlog') console.log(`# linkem: ${line}`);
      } catch { /* not JSON */ }
    });
    child.stderr.on('data', (d) => process.stderr.write(`  [linkem] ${d}`));
    child.on('exit', (code) => reject(new Error(`linkem exited with ${code}`)));
    // a direction's counters as last printed (every second): two of them bound a window
    link.snapshot = (direction) => ({ ...link.latest[direction] });
    link.down = () => child.kill('SIGUSR1');
    link.up = () => child.kill('SIGUSR2');
    link.stop = () => new Promise((r) => {
      child.removeAllListeners('exit');
      child.on('exit', () => r(link.final));
      child.kill('SIGTERM');
      setTimeout(() => r(link.final), 5000);
    });
    setTimeout(() => reject(new Error('linkem did not start within 10 s')), 10000);
  });
}
