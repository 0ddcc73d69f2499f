/* libFuzzer target: media/srtp against Debian's libsrtp2, decision for decision and byte for
 * byte (issue 10: proof that our SRTP is right).
 *
 * The input is a script. Its first byte picks the profile (GCM or AES-CM); then each step
 * is an opcode and its arguments:
 *   new packet  an SSRC (of 8), a sequence step (+1, a jump, a step back, across the wrap),
 *               a payload size; both senders protect the same plaintext: our outbound and
 *               libsrtp's (window 1024, no repeated index) must agree on accept or refuse and
 *               on every byte; the packet goes to both receivers now or is held back
 *   deliver     a packet from the history (64 kept) again: a late, reordered or replayed one
 *   forge       a packet from the history with one bit flipped, or its SSRC changed
 *   rtcp        a new SRTCP packet from both senders (same bytes, one sender SSRC: see there),
 *               delivered or held back
 *   raw         the next bytes as they are, to both receivers
 * Both receivers (our inbound, libsrtp's with window 1024) must accept or refuse alike and,
 * when they accept, give the same plaintext. Up to 16 SSRCs: our inbound table's size, so
 * what differs by design (libsrtp never forgets a stream) stays out of the comparison.
 */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"
#include "media/srtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HISTORY 64
#define BUF (1500 + DC_SRTP_MAX_TRAILER)

typedef struct {
  uint8_t bytes[BUF];
  size_t len;
  bool rtcp;
} held;

static const uint8_t master[30] = {0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0, 0xD6, 0x4F,
                                   0xA3, 0x2C, 0x06, 0xDE, 0x41, 0x39, 0x0E, 0xC6, 0x75, 0xAD,
                                   0x49, 0x8A, 0xFE, 0xEB, 0xB6, 0x96, 0x0B, 0x3A, 0xAB, 0xE6};

static srtp_t libsrtp_session(bool gcm, bool inbound) {
  srtp_policy_t pol;
  memset(&pol, 0, sizeof pol);
  if (gcm) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
  }
  uint8_t key[30];
  memcpy(key, master, 16);
  memcpy(key + 16, master + 16, gcm ? 12 : 14);
  pol.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
  pol.key = key;
  pol.window_size = 1024;
  pol.allow_repeat_tx = 0;
  srtp_t s;
  if (srtp_create(&s, &pol) != srtp_err_status_ok)
    abort();
  return s;
}

static void differ(const char *what, int ours, int theirs) {
  fprintf(stderr, "media/srtp and libsrtp2 differ on %s: ours %d, libsrtp %d\n", what, ours, theirs);
  abort();
}

/* Both receivers take the packet; they must agree. */
static void receive(dc_srtp *ours, srtp_t theirs, const uint8_t *pkt, size_t len, bool rtcp) {
  if (len > 1500 + 30)
    return;
  uint8_t a[BUF], b[BUF];
  memcpy(a, pkt, len);
  memcpy(b, pkt, len);
  size_t la = len;
  int lb = (int)len;
  dc_status st = rtcp ? dc_srtp_unprotect_rtcp(ours, a, &la) : dc_srtp_unprotect(ours, a, &la);
  srtp_err_status_t e = rtcp ? srtp_unprotect_rtcp(theirs, b, &lb) : srtp_unprotect(theirs, b, &lb);
  if ((st == DC_OK) != (e == srtp_err_status_ok))
    differ(rtcp ? "unprotect_rtcp" : "unprotect", (int)st, (int)e);
  if (st == DC_OK && (la != (size_t)lb || memcmp(a, b, la)))
    differ(rtcp ? "unprotect_rtcp bytes" : "unprotect bytes", (int)la, lb);
}

typedef struct {
  const uint8_t *p;
  size_t n;
} reader;

static bool take(reader *r, uint8_t *out) {
  if (!r->n)
    return false;
  *out = *r->p++;
  r->n--;
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool init;
  if (!init) {
    if (srtp_init() != srtp_err_status_ok)
      abort();
    init = true;
  }
  reader r = {data, size};
  uint8_t profile_byte;
  if (!take(&r, &profile_byte))
    return 0;
  bool gcm = profile_byte & 1;
  dc_srtp_profile profile = gcm ? DC_SRTP_AEAD_AES_128_GCM : DC_SRTP_AES128_CM_SHA1_80;
  uint8_t mk[16], ms[14];
  memcpy(mk, master, 16);
  memcpy(ms, master + 16, 14);
  dc_srtp *our_out = dc_srtp_new(profile, mk, ms, DC_SRTP_OUTBOUND, NULL);
  dc_srtp *our_in = dc_srtp_new(profile, mk, ms, DC_SRTP_INBOUND, NULL);
  srtp_t their_out = libsrtp_session(gcm, false), their_in = libsrtp_session(gcm, true);
  static held history[HISTORY];
  unsigned n_history = 0;
  uint16_t seq[8] = {0, 100, 30000, 32767, 40000, 65000, 65535, 7};
  uint8_t op, a, b, c;
  for (int steps = 0; steps < 400 && take(&r, &op); steps++) {
    switch (op % 6) {
    case 0: { /* a new packet from both senders */
      if (!take(&r, &a) || !take(&r, &b) || !take(&r, &c))
        break;
      int k = a & 7;
      static const int steps_by[8] = {1, 1, 1, 2, 50, -1, -3, 1000};
      seq[k] = (uint16_t)(seq[k] + (b & 0x80 ? (int)(b & 0x7F) * 500 : steps_by[b & 7]));
      uint8_t plain[BUF];
      dc_rtp_header h = {.payload_type = 96, .seq = seq[k], .timestamp = seq[k] * 3000u,
                         .ssrc = 0x1000u + (uint32_t)k, .marker = c & 1};
      uint8_t level = c;
      dc_rtp_ext_elem ext = {1, 1, &level};
      size_t hl = dc_rtp_write_header(plain, 64, &h, &ext, c & 2 ? 1 : 0);
      size_t payload = (size_t)(c >> 2) * 7;
      for (size_t i = 0; i < payload; i++)
        plain[hl + i] = (uint8_t)(i * 31 + c);
      size_t len = hl + payload;
      uint8_t x[BUF], y[BUF];
      memcpy(x, plain, len);
      memcpy(y, plain, len);
      size_t lx = len;
      int ly = (int)len;
      dc_status st = dc_srtp_protect(our_out, x, &lx, sizeof x);
      srtp_err_status_t e = srtp_protect(their_out, y, &ly);
      if ((st == DC_OK) != (e == srtp_err_status_ok))
        differ("protect", (int)st, (int)e);
      if (st != DC_OK)
        break;
      if (lx != (size_t)ly || memcmp(x, y, lx))
        differ("protect bytes", (int)lx, ly);
      held *hp = &history[n_history++ % HISTORY];
      memcpy(hp->bytes, x, lx);
      hp->len = lx;
      hp->rtcp = false;
      if (!(a & 0x80)) /* else held back: a later deliver brings it late */
        receive(our_in, their_in, x, lx, false);
      break;
    }
    case 1: /* deliver one from the history: late, reordered or replayed */
      if (take(&r, &a) && n_history) {
        held *hp = &history[a % (n_history < HISTORY ? n_history : HISTORY)];
        receive(our_in, their_in, hp->bytes, hp->len, hp->rtcp);
      }
      break;
    case 2: /* forge: a bit flipped, or another SSRC */
      if (take(&r, &a) && take(&r, &b) && take(&r, &c) && n_history) {
        held *hp = &history[a % (n_history < HISTORY ? n_history : HISTORY)];
        uint8_t f[BUF];
        memcpy(f, hp->bytes, hp->len);
        if (c & 1)
          f[(b * 7u) % hp->len] ^= (uint8_t)(1u << (c >> 5));
        else
          f[hp->rtcp ? 7 : 11] ^= (uint8_t)(0x10 + (c & 0x0F)); /* the SSRC's last byte */
        receive(our_in, their_in, f, hp->len, hp->rtcp);
      }
      break;
    case 3: { /* SRTCP from both senders */
      if (!take(&r, &a) || !take(&r, &b))
        break;
      uint8_t x[BUF] = {0x81, 201, 0, 7}, y[BUF];
      /* One sender SSRC: our SRTCP index is the session's (one counter for all its SSRCs),
       * libsrtp's is per SSRC; with one SSRC the two are the same, and neither ever repeats
       * an (SSRC, index). Other SSRCs reach the receivers through forge. */
      uint32_t ssrc = 0x1000u;
      x[4] = (uint8_t)(ssrc >> 24), x[5] = (uint8_t)(ssrc >> 16), x[6] = (uint8_t)(ssrc >> 8), x[7] = (uint8_t)ssrc;
      for (int i = 8; i < 32; i++)
        x[i] = (uint8_t)(b + i);
      memcpy(y, x, 32);
      size_t lx = 32;
      int ly = 32;
      dc_status st = dc_srtp_protect_rtcp(our_out, x, &lx, sizeof x);
      srtp_err_status_t e = srtp_protect_rtcp(their_out, y, &ly);
      if ((st == DC_OK) != (e == srtp_err_status_ok))
        differ("protect_rtcp", (int)st, (int)e);
      if (st != DC_OK)
        break;
      if (lx != (size_t)ly || memcmp(x, y, lx))
        differ("protect_rtcp bytes", (int)lx, ly);
      held *hp = &history[n_history++ % HISTORY];
      memcpy(hp->bytes, x, lx);
      hp->len = lx;
      hp->rtcp = true;
      if (!(a & 0x80))
        receive(our_in, their_in, x, lx, true);
      break;
    }
    case 4: /* the same again, by a second path: history replays in a row */
      for (unsigned i = 0; take(&r, &a) && i < (a & 7) && n_history; i++) {
        held *hp = &history[(n_history - 1 - i % n_history) % HISTORY];
        receive(our_in, their_in, hp->bytes, hp->len, hp->rtcp);
      }
      break;
    case 5: { /* raw bytes */
      if (!take(&r, &a))
        break;
      size_t len = a;
      if (len > r.n)
        len = r.n;
      uint8_t raw[BUF];
      memcpy(raw, r.p, len);
      r.p += len, r.n -= len;
      if (len >= 2)
        receive(our_in, their_in, raw, len, raw[1] >= 192 && raw[1] <= 223);
      break;
    }
    }
  }
  dc_srtp_free(our_out);
  dc_srtp_free(our_in);
  srtp_dealloc(their_out);
  srtp_dealloc(their_in);
  return 0;
}
