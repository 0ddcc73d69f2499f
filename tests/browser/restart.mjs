// Browser test (issue 16): the bridge is killed (SIGKILL) mid-meeting and started again on the
// same data: the meeting, its invitations and its attendance are intact, and the two pages
// rejoin by themselves (no reload, no click) within 5 s of the bridge listening, with media
// flowing again. Then a page whose link the operator withdrew stops trying.
//
// Usage: node restart.mjs BRIDGE_EXECUTABLE. In a network namespace of its own. Prints TAP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, api, enterNetns, launch, openPage, sleep, startBridge, stopBridge, tap, until } from './harness.mjs';

const bridgeExe = process.argv[2];
enterNetns('dcrestart');
const { check, finish } = tap();

const frames = (page) => page.evaluate(async () => {
  let n = 0, a = 0;
  if (!window.diemcau.pc) return { frames: 0, audio: 0 };
  (await window.diemcau.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0;
    if (s.type === 'inbound-rtp' && s.kind === 'audio') a += s.packetsReceived || 0;
  });
  return { frames: n, audio: a };
});


async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-restart-'));
  let bridge = await startBridge(bridgeExe, join(dir, 'data'));
  const key = bridge.key;
  let browser;
  try {
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(key, 'POST', '/api/meetings', { title: 'Họp khi mất điện', starts_at: now, ends_at: now + 3600 });
    const links = [];
    for (const name of ['Hội trường huyện', 'Xã Tà Xùa']) {
      const p = await api(key, 'POST', '/api/points', { name, kind: 'commune', link_profile: 'standard' });
      links.push((await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: p.id })));
    }
    browser = await launch();
    const pages = [];
    for (const l of links) pages.push(await openPage(browser, l.join_link.replace(/^https:\/\/[^/]+/, BASE) + '&autojoin=1&slots=1'));
    const up = (p) => until(async () => { const s = await frames(p); return s.frames > 20 && s.audio > 100 && s; }, 45000);
    check(!!(await up(pages[0])) && !!(await up(pages[1])), 'two pages meet', 'video and audio flowing both ways');
    // B's connection drops (its page is gone, no leave): the others see it reconnecting, then back
    const linkB = links[1].join_link.replace(/^https:\/\/[^/]+/, BASE) + '&autojoin=1&slots=1';
    await pages[1].context().close();
    const ghost = await until(async () => {
      const r = await pages[0].evaluate(() => window.diemcau.roster);
      return r.length === 2 && r.find((p) => p.point === 'Xã Tà Xùa' && p.reconnecting) && r;
    }, 5000);
    const live = await api(key, 'GET', `/api/meetings/${meeting.id}/live`);
    const liveB = live.points.find((p) => p.name === 'Xã Tà Xùa');
    check(!!ghost && liveB && liveB.status === 'reconnecting', "a point whose connection drops shows as reconnecting, not as gone",
      `roster at A: ${JSON.stringify((ghost || []).map((p) => `${p.point}${p.reconnecting ? ' (reconnecting)' : ''}`))}; live view: ${liveB && liveB.status}`);
    pages[1] = await openPage(browser, linkB);
    const backB = await until(async () => {
      const r = await pages[0].evaluate(() => window.diemcau.roster);
      return r.length === 2 && r.every((p) => !p.reconnecting && p.connected) && r;
    }, 20000);
    check(!!backB, 'when it comes back it takes its own place: once in the roster, connected',
      JSON.stringify((backB || await pages[0].evaluate(() => window.diemcau.roster)).map((p) => `${p.point}${p.reconnecting ? ' (reconnecting)' : ''}${p.connected ? '' : ' (not connected)'}`)));
    await up(pages[1]);
    await sleep(11000); // past the attendance's 10 s save

    const triedBefore = await Promise.all(pages.map((p) => p.evaluate(() => (window.diemcau.retryWaits || []).length)));
    const killedAt = Math.ceil(Date.now() / 1000);
    bridge.child.kill('SIGKILL');
    await new Promise((r) => bridge.child.on('exit', r));
    await sleep(2000); // a power cut at the district
    bridge = await startBridge(bridgeExe, join(dir, 'data'), { restart: true });
    const back = Date.now();
    const rejoined = await Promise.all(pages.map((p) => until(async () =>
      (await p.evaluate(() => window.diemcau.joins)) >= 2 && Date.now() - back, 20000)));
    check(rejoined.every((ms) => ms && ms <= 5000), 'after a kill -9 and a restart, both pages rejoin by themselves within 5 s',
      `rejoined ${rejoined.map((ms) => (ms ? `${(ms / 1000).toFixed(1)} s` : 'never')).join(', ')} after the bridge listened`);
    // the pages lost the bridge at the same instant: their tries are spread, not in step
    const waits = (await Promise.all(pages.map((p) => p.evaluate(() => window.diemcau.retryWaits || []))))
      .map((w, i) => w.slice(triedBefore[i]));
    const inRange = waits.every((w) => w.length && w.every(({ base, wait }) => wait >= base / 2 && wait <= base * 1.5));
    const common = Math.min(waits[0].length, waits[1].length);
    const inStep = waits[0].slice(0, common).every((w, k) => w.wait === waits[1][k].wait);
    check(inRange && !inStep, "the two pages' tries while the bridge was down were spread, each wait within half to one and a half of its step",
      waits.map((w) => w.map(({ base, wait }) => `${wait}/${base}`).join(' ')).join('; ') + ' ms (wait/step)');
    const before = await Promise.all(pages.map(frames));
    const flowing = await Promise.all(pages.map((p, i) => until(async () => {
      const s = await frames(p);
      return s.frames > before[i].frames + 10 && s.audio > before[i].audio + 50 && Date.now() - back;
    }, 20000)));
    check(flowing.every((ms) => ms), 'their media flows again (new connections, the same pages)',
      `video and audio again ${flowing.map((ms) => (ms ? `${(ms / 1000).toFixed(1)} s` : 'never')).join(', ')} after the bridge listened`);

    const m = await api(key, 'GET', `/api/meetings/${meeting.id}`);
    const att = await api(key, 'GET', `/api/meetings/${meeting.id}/attendance`);
    const stays = att.points.map((p) => p.stays.length); /* B: before its drop, after it, after the restart */
    // saved every 10 s: the stay the kill cut ends at its last save, after its join and before the kill
    const cut = att.points.map((p) => p.stays[p.stays.length - 2]);
    const firstClosed = cut.every((v) => v && v.left_at > v.joined_at && v.left_at <= killedAt);
    check(m.state === 'live' && m.invitations.length === 2 && stays[0] === 2 && stays[1] === 3 && firstClosed,
      'the meeting, its invitations and its attendance survive: the stay the kill cut is closed at its last save',
      `${m.state}, ${m.invitations.length} invitations, stays ${stays.join(', ')}; ${JSON.stringify(cut)}`);

    // a withdrawn link: the page stops trying and says why
    await api(key, 'POST', `/api/invitations/${links[1].id}/revoke`);
    const said = await until(async () => { const t = await pages[1].textContent('#status'); return t.includes('invitation-revoked') && t; }, 10000);
    await sleep(3000);
    const still = await pages[1].textContent('#status');
    const tries = await pages[1].evaluate(() => window.diemcau.retryTimer || 0);
    check(!!said && still.includes('invitation-revoked') && !tries, 'a page whose link was withdrawn stops trying and says why', still);
  } finally {
    if (browser) await browser.close();
    const code = await stopBridge(bridge.child);
    check(code === 0, 'the bridge stops cleanly on SIGTERM', `exit ${code}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to the end', String(e && e.stack || e))).finally(finish);
