// signaling/web/qr.js against a real decoder: texts that need each version from 1 to 15
// (and one too long) are encoded, drawn as images and read back with zbarimg (zbar-tools).
// Usage: node qr_zbar.mjs. Prints TAP.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const QR = new Function(`${readFileSync(join(here, '../../signaling/web/qr.js'), 'utf8')}\nreturn QR;`)();
const dir = mkdtempSync(join(tmpdir(), 'diemcau-qr-'));
const results = [];
const check = (ok, name, detail) => results.push(`${ok ? 'ok' : 'not ok'} ${results.length + 1} ${name}${detail ? ` # ${detail}` : ''}`);

// A plain bitmap (PBM) of the symbol: 3 pixels a module, a quiet zone of 4 modules.
function pbm(m, path) {
  const n = m.length, q = 4, s = 3, w = (n + 2 * q) * s;
  const rows = [];
  for (let y = 0; y < w; y++) {
    const row = [];
    for (let x = 0; x < w; x++) {
      const mx = Math.floor(x / s) - q, my = Math.floor(y / s) - q;
      row.push(mx >= 0 && my >= 0 && mx < n && my < n && m[my][mx] ? 1 : 0);
    }
    rows.push(row.join(''));
  }
  writeFileSync(path, `P1\n${w} ${w}\n${rows.join('\n')}\n`);
}

// Deterministic link-like text of n bytes.
function text(n) {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789/&=?.:-_ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let out = 'https://bridge.example:8443/join#meeting=12&token=';
  for (let i = 0; out.length < n; i++) out += chars[(i * 7919 + n) % chars.length];
  return out.slice(0, n);
}

// the largest byte count each version holds at level M (ISO/IEC 18004 table 7)
const capacity = [0, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412];
try {
  for (let v = 1; v <= 15; v++) {
    const t = text(Math.max(capacity[v], 1));
    const m = QR.encode(t);
    const got = (m.length - 17) / 4;
    const path = join(dir, `v${v}.pbm`);
    pbm(m, path);
    const z = spawnSync('zbarimg', ['-q', '--raw', path], { encoding: 'utf8' });
    const read = (z.stdout || '').replace(/\n$/, '');
    check(got === v && read === t, `${t.length} bytes: version ${v}, read back by zbarimg`,
      `version ${got}, ${read === t ? 'same text' : `read "${read.slice(0, 40)}" ${z.stderr.trim().slice(0, 80)}`}`);
  }
  let refused = '';
  try { QR.encode(text(413)); } catch (e) { refused = e.message; }
  check(refused.includes('too long'), 'a text over version 15 is refused, saying so', refused);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`1..${results.length}`);
results.forEach((r) => console.log(r));
process.exit(results.every((r) => r.startsWith('ok')) ? 0 : 1);
