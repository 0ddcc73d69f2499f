/* srtp.c — SRTP and SRTCP on OpenSSL's AES-GCM, AES-CTR and HMAC-SHA1; see srtp.h.
 *
 * Why not libsrtp2: Debian 12's libsrtp2 does its cryptography through NSS, and there each
 * operation takes locks, allocates, and gets slower as more keys are alive (measured with
 * tests/bench/bench_mixer: 0.8 us per protect with 100 sessions, 12 us with 3000). A bridge
 * holds two sessions per participant, so that cost grows with the square of a meeting.
 * Here each session keys one OpenSSL cipher context per direction once, and a packet only
 * sets its IV. The transforms are RFC 3711 §3–4 (AES-CM, HMAC-SHA1-80, key derivation with
 * kdr 0, index estimation of §3.3.1 and appendix A, replay list of §3.3.2) and RFC 7714
 * §8–9 and §11 (AEAD_AES_128_GCM for SRTP and SRTCP); tests/unit/test_srtp.c pins them to
 * the RFC test vectors and to libsrtp-compatible output, byte for byte, and
 * tests/fuzz/fuzz_srtp_differential.c holds every decision to libsrtp2's.
 *
 * Per-SSRC state (rollover counter, highest index, a window of the indices seen) lives in a
 * table per session half. The security model is in srtp.h; in short: an inbound packet
 * touches no state until it has authenticated, and an outbound index is protected at most
 * once.
 */
#include "media/srtp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <pthread.h>
#include <string.h>

#include "media/rtp.h"

#define INBOUND_STREAMS 16   /* a participant's audio, video layers and RTX, with room */
#define OUTBOUND_STREAMS 256 /* what one session may send; never evicted */
#define RTP_WINDOW 1024      /* packets: video arrives reordered and retransmitted */
#define RTCP_WINDOW 128      /* as libsrtp's SRTCP replay database */
#define MAX_WINDOW RTP_WINDOW
#define GCM_TAG 16
#define CM_TAG 10

/* DC_SRTP_AUDIT (the debug builds): an outbound stream also keeps a fingerprint of the bytes
 * protected under each index in its window, so an attempt to protect an index again is told
 * apart: the same bytes (a harmless resend, refused all the same) or different bytes (a bug
 * in whatever built the packet: it would have reused a nonce), which is a critical. */
#ifdef DC_SRTP_AUDIT
#define AUDIT 1
#else
#define AUDIT 0
#endif

typedef struct {
  uint32_t ssrc;
  uint64_t last_use;
  bool started;
  /* SRTP: rollover counter and highest sequence number (RFC 3711 §3.3.1), i.e. the highest
   * index is roc << 16 | s_l; SRTCP: highest is the highest SRTCP index. */
  uint32_t roc;
  uint16_t s_l;
  uint64_t highest;
  /* A ring: bit (index % window) is set when that index, within window of highest, was
   * accepted (inbound) or used (outbound). Shifting a 1024-bit map on every packet was a
   * percent of the bridge at 1000 participants; moving on clears only the bits passed over. */
  uint64_t window[MAX_WINDOW / 64];
  uint64_t *fingerprints;           /* AUDIT only: by index % window */
} stream;

typedef struct {
  uint8_t key[16], salt[14], auth[20];
  EVP_CIPHER_CTX *ctx;
  EVP_MAC_CTX *mac; /* HMAC-SHA1 keyed with auth (AES-CM only) */
  stream *streams;  /* n_streams used of cap */
  unsigned n_streams, cap, max_streams, window;
  bool inbound;
  uint64_t clock;
} half;

struct dc_srtp {
  dc_srtp_profile profile;
  dc_srtp_direction dir;
  half rtp, rtcp;
  uint32_t srtcp_index; /* outbound: the next SRTCP index (31 bits); 0 once all are used */
  uint64_t refused;     /* outbound: packets refused because their index was used */
};

size_t dc_srtp_key_len(dc_srtp_profile profile) {
  switch (profile) {
  case DC_SRTP_AES128_CM_SHA1_80:
  case DC_SRTP_AEAD_AES_128_GCM: return 16;
  }
  return 0;
}

size_t dc_srtp_salt_len(dc_srtp_profile profile) {
  switch (profile) {
  case DC_SRTP_AES128_CM_SHA1_80: return 14;
  case DC_SRTP_AEAD_AES_128_GCM: return 12;
  }
  return 0;
}

const char *dc_srtp_profile_name(dc_srtp_profile profile) {
  switch (profile) {
  case DC_SRTP_AES128_CM_SHA1_80: return "AES_CM_128_HMAC_SHA1_80";
  case DC_SRTP_AEAD_AES_128_GCM: return "AEAD_AES_128_GCM";
  }
  return NULL;
}

/* RFC 3711 §4.3.1/§4.3.3, kdr 0: AES-CM of the master salt with the label at byte 7. A
 * 96-bit GCM salt is padded with zeros to 112 bits (RFC 7714 §11, as libsrtp does). */
static bool derive(const uint8_t *mkey, const uint8_t *msalt, size_t salt_len, uint8_t label,
                   uint8_t *out, size_t n) {
  uint8_t iv[16] = {0}, zeros[32] = {0};
  memcpy(iv, msalt, salt_len);
  iv[7] ^= label;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len;
  bool ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, mkey, iv) &&
            EVP_EncryptUpdate(c, out, &len, zeros, (int)n);
  EVP_CIPHER_CTX_free(c);
  return ok;
}

static EVP_MAC *hmac;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static void fetch_hmac(void) { hmac = EVP_MAC_fetch(NULL, "HMAC", NULL); }

static bool setup_half(half *h, dc_srtp_profile profile, dc_srtp_direction dir, const uint8_t *mkey,
                       const uint8_t *msalt, uint8_t label_base) {
  bool gcm = profile == DC_SRTP_AEAD_AES_128_GCM;
  bool rtcp = label_base != 0;
  h->window = rtcp ? RTCP_WINDOW : RTP_WINDOW;
  h->inbound = dir == DC_SRTP_INBOUND;
  h->max_streams = dir == DC_SRTP_INBOUND ? INBOUND_STREAMS : OUTBOUND_STREAMS;
  /* Outbound SRTCP needs no per-SSRC state (one index for the session). The inbound table is
   * made whole now, so that no packet allocates; the outbound one grows, rarely, as we add
   * streams of our own. */
  h->cap = dir == DC_SRTP_INBOUND ? INBOUND_STREAMS : rtcp ? 0 : 4;
  h->streams = h->cap ? g_new0(stream, h->cap) : NULL;
  size_t sl = dc_srtp_salt_len(profile);
  if (!derive(mkey, msalt, sl, label_base, h->key, 16) ||
      !derive(mkey, msalt, sl, (uint8_t)(label_base + 1), h->auth, 20) ||
      !derive(mkey, msalt, sl, (uint8_t)(label_base + 2), h->salt, gcm ? 12 : 14))
    return false;
  h->ctx = EVP_CIPHER_CTX_new();
  if (!h->ctx)
    return false;
  const EVP_CIPHER *cipher = gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr();
  /* AES-CTR is its own inverse: CM sessions always "encrypt". */
  int enc = gcm ? dir == DC_SRTP_OUTBOUND : 1;
  if (!EVP_CipherInit_ex(h->ctx, cipher, NULL, NULL, NULL, enc))
    return false;
  if (gcm && !EVP_CIPHER_CTX_ctrl(h->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL))
    return false;
  if (!gcm) {
    pthread_once(&hmac_once, fetch_hmac);
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    h->mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    if (!h->mac || !EVP_MAC_init(h->mac, h->auth, sizeof h->auth, params))
      return false;
  }
  return EVP_CipherInit_ex(h->ctx, NULL, NULL, h->key, NULL, enc);
}

dc_srtp *dc_srtp_new(dc_srtp_profile profile, const uint8_t *key, const uint8_t *salt,
                     dc_srtp_direction direction, dc_status *status) {
  dc_status dummy;
  status = status ? status : &dummy;
  if (!dc_srtp_key_len(profile)) {
    *status = DC_ERR_UNSUPPORTED;
    return NULL;
  }
  dc_srtp *s = g_new0(dc_srtp, 1);
  s->profile = profile;
  s->dir = direction;
  s->srtcp_index = 1;
  if (!setup_half(&s->rtp, profile, direction, key, salt, 0) ||
      !setup_half(&s->rtcp, profile, direction, key, salt, 3)) {
    dc_srtp_free(s);
    *status = DC_ERR_INTERNAL;
    return NULL;
  }
  *status = DC_OK;
  return s;
}

void dc_srtp_free(dc_srtp *s) {
  if (!s)
    return;
  EVP_CIPHER_CTX_free(s->rtp.ctx);
  EVP_CIPHER_CTX_free(s->rtcp.ctx);
  EVP_MAC_CTX_free(s->rtp.mac);
  EVP_MAC_CTX_free(s->rtcp.mac);
  for (int i = 0; i < 2; i++) {
    half *h = i ? &s->rtcp : &s->rtp;
    for (unsigned k = 0; k < h->n_streams; k++)
      g_free(h->streams[k].fingerprints);
    g_free(h->streams);
  }
  OPENSSL_cleanse(s, sizeof *s);
  g_free(s);
}

dc_srtp_profile dc_srtp_get_profile(const dc_srtp *s) { return s->profile; }
uint64_t dc_srtp_refused(const dc_srtp *s) { return s->refused; }
size_t dc_srtp_rtp_trailer(const dc_srtp *s) { return s->profile == DC_SRTP_AEAD_AES_128_GCM ? GCM_TAG : CM_TAG; }

void dc_srtp_prefetch(const dc_srtp *s, unsigned stage) {
  const half *h = &s->rtp;
  if (stage == 0) {
    __builtin_prefetch(s);
    __builtin_prefetch((const char *)h + 64);
    return;
  }
  /* an audio receiver's one stream, or the first two of a video one's */
  for (unsigned i = 0; i < MIN(h->n_streams, 2u); i++)
    for (size_t off = 0; off < sizeof(stream); off += 64)
      __builtin_prefetch((const char *)&h->streams[i] + off);
  __builtin_prefetch(h->ctx);
}

/* ---- per-SSRC state ---- */

/* The stream of ssrc, or NULL; looking changes nothing. */
static stream *find_stream(half *h, uint32_t ssrc) {
  for (unsigned i = 0; i < h->n_streams; i++)
    if (h->streams[i].ssrc == ssrc)
      return &h->streams[i];
  return NULL;
}

/* What an SSRC with no stream yet reads as: nothing started. (One made up on the stack for
 * each packet cost 176 bytes zeroed on every packet, whether or not it was needed.) */
static const stream unseen;

/* Called only once a packet of ssrc has authenticated (inbound) or is ours (outbound):
 * takes a place for it, as unseen. Inbound, a full table gives up the least recently
 * used stream, so only a peer holding the keys can push one out, and only its own. Outbound
 * streams are never dropped (a dropped one would start again at ROC 0 and repeat key and
 * IV): the table grows to OUTBOUND_STREAMS, then NULL. */
static stream *add_stream(half *h, uint32_t ssrc) {
  stream *st;
  if (h->n_streams < h->cap) {
    st = &h->streams[h->n_streams++];
  } else if (!h->inbound && h->cap < h->max_streams) {
    h->cap = MIN(h->cap ? h->cap * 2 : 4, h->max_streams);
    h->streams = g_renew(stream, h->streams, h->cap);
    st = &h->streams[h->n_streams++];
  } else if (h->inbound && h->n_streams) {
    st = &h->streams[0];
    for (unsigned i = 1; i < h->n_streams; i++)
      if (h->streams[i].last_use < st->last_use)
        st = &h->streams[i];
    g_free(st->fingerprints);
  } else {
    return NULL;
  }
  *st = (stream){.ssrc = ssrc};
  return st;
}

/* RFC 3711 §3.3.1 and appendix A: the index a sequence number most likely has, relative to
 * the highest one so far. Where that guess would be ROC -1 (no packet can have it), the
 * packet is taken at ROC 0, a jump forward, as libsrtp does. */
static int64_t estimate_index(const stream *st, uint16_t seq) {
  if (!st->started)
    return seq;
  int64_t roc = st->roc;
  if (st->s_l < 32768) {
    if (seq > st->s_l && seq - st->s_l > 32768 && roc > 0)
      roc--;
  } else if (st->s_l - 32768 > seq) {
    roc++;
  }
  return roc << 16 | seq;
}

/* DC_OK when index lies above the window or on a clear bit of it; DC_ERR_REPLAY otherwise
 * (seen before, or too old to tell). */
static dc_status window_check(const stream *st, unsigned window, int64_t index) {
  if (!st->started || (uint64_t)index > st->highest)
    return DC_OK;
  uint64_t delta = st->highest - (uint64_t)index;
  if (delta >= window)
    return DC_ERR_REPLAY;
  uint64_t bit = (uint64_t)index % window;
  return (st->window[bit / 64] >> (bit % 64)) & 1 ? DC_ERR_REPLAY : DC_OK;
}

/* Clears the ring's bits of the n indices from `from` on (n < window; window a multiple of
 * 64, so a run that fits in its word never wraps inside it). */
static void window_clear(uint64_t *ring, unsigned window, uint64_t from, uint64_t n) {
  while (n) {
    unsigned bit = (unsigned)(from % window), in_word = bit % 64;
    unsigned take = (unsigned)MIN(n, (uint64_t)(64 - in_word));
    uint64_t mask = take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1) << in_word;
    ring[bit / 64] &= ~mask;
    from += take;
    n -= take;
  }
}

/* After a packet authenticated (or was protected): remember its index. */
static void window_add(stream *st, unsigned window, uint64_t index) {
  if (!st->started) {
    st->started = true;
    st->highest = index;
    memset(st->window, 0, sizeof st->window);
  } else if (index > st->highest) {
    uint64_t shift = index - st->highest;
    if (shift >= window)
      memset(st->window, 0, sizeof st->window);
    else
      window_clear(st->window, window, st->highest + 1, shift);
    st->highest = index;
  }
  uint64_t bit = index % window;
  st->window[bit / 64] |= (uint64_t)1 << (bit % 64);
}

/* SRTP only: the rollover counter and highest sequence number follow the highest index. */
static void accept_rtp_index(stream *st, unsigned window, uint64_t index, uint64_t clock) {
  window_add(st, window, index);
  st->roc = (uint32_t)(st->highest >> 16);
  st->s_l = (uint16_t)st->highest;
  st->last_use = clock;
}

/* FNV-1a, 64 bits: a debug build's fingerprint of a packet's bytes, not a defence. */
static uint64_t fingerprint(const uint8_t *buf, size_t len) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < len; i++)
    h = (h ^ buf[i]) * 0x100000001b3u;
  return h;
}

/* ---- the transforms ---- */

static void gcm_iv(uint8_t iv[12], const uint8_t salt[12], uint32_t ssrc, uint32_t hi, uint16_t lo,
                   bool rtcp) {
  memset(iv, 0, 12);
  dc_wr32(iv + 2, ssrc);
  if (rtcp) {
    dc_wr32(iv + 8, hi); /* the 31-bit SRTCP index */
  } else {
    dc_wr32(iv + 6, hi); /* ROC */
    dc_wr16(iv + 10, lo);
  }
  for (int i = 0; i < 12; i++)
    iv[i] ^= salt[i];
}

static void cm_iv(uint8_t iv[16], const uint8_t salt[14], uint32_t ssrc, uint64_t index) {
  memset(iv, 0, 16);
  memcpy(iv, salt, 14);
  uint8_t s[4], idx[6];
  dc_wr32(s, ssrc);
  dc_wr16(idx, (uint16_t)(index >> 32));
  dc_wr32(idx + 2, (uint32_t)index);
  for (int i = 0; i < 4; i++)
    iv[4 + i] ^= s[i];
  for (int i = 0; i < 6; i++)
    iv[8 + i] ^= idx[i];
}

/* AES-GCM over [aad | data] in place; encrypting writes the tag after data, decrypting
 * checks the tag found there. */
static bool gcm(EVP_CIPHER_CTX *c, bool enc, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                uint8_t *data, size_t n, uint8_t *tag) {
  int len;
  if (!EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) ||
      !EVP_CipherUpdate(c, NULL, &len, aad, (int)aad_len) ||
      (n && !EVP_CipherUpdate(c, data, &len, data, (int)n)))
    return false;
  if (enc)
    return EVP_CipherFinal_ex(c, data + n, &len) &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag);
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) &&
         EVP_CipherFinal_ex(c, data + n, &len) > 0;
}

static bool ctr(EVP_CIPHER_CTX *c, const uint8_t iv[16], uint8_t *data, size_t n) {
  int len;
  return EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) &&
         (n == 0 || EVP_CipherUpdate(c, data, &len, data, (int)n));
}

/* HMAC-SHA1-80 over data[0, n) followed by extra (the ROC; SRTCP passes none). A NULL key
 * re-initialises the context with the key it was made with. */
static bool hmac80(EVP_MAC_CTX *mac, const uint8_t *data, size_t n, const uint8_t *extra,
                   size_t extra_len, uint8_t out[CM_TAG]) {
  uint8_t md[20];
  size_t md_len;
  bool ok = EVP_MAC_init(mac, NULL, 0, NULL) && EVP_MAC_update(mac, data, n) &&
            (!extra_len || EVP_MAC_update(mac, extra, extra_len)) &&
            EVP_MAC_final(mac, md, &md_len, sizeof md);
  memcpy(out, md, CM_TAG);
  return ok;
}

static dc_status check_room(size_t len, size_t cap, size_t min_len) {
  if (len < min_len)
    return DC_ERR_TRUNCATED;
  if (cap < len || cap - len < DC_SRTP_MAX_TRAILER)
    return DC_ERR_NO_SPACE;
  return DC_OK;
}

/* Outbound: may index be protected now? Refuses an index already used or too old to tell;
 * an audit build says when the refused bytes differ from the first ones (a caller's bug). */
static dc_status outbound_check(const stream *st, unsigned window, int64_t index,
                                const uint8_t *buf, size_t len, uint64_t *fp) {
  dc_status ok = window_check(st, window, index);
  if (!AUDIT)
    return ok;
  *fp = fingerprint(buf, len);
  if (ok != DC_OK && st->fingerprints && st->highest - (uint64_t)index < window &&
      st->fingerprints[(uint64_t)index % window] != *fp)
    g_critical("srtp: SSRC %08x index %" G_GINT64_FORMAT " was about to be protected again with "
               "other bytes (refused)", st->ssrc, index);
  return ok;
}

static void audit_record(stream *st, unsigned window, uint64_t index, uint64_t fp) {
  if (!AUDIT)
    return;
  if (!st->fingerprints)
    st->fingerprints = g_new0(uint64_t, window);
  st->fingerprints[index % window] = fp;
}

dc_status dc_srtp_protect(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
  dc_status st = check_room(*len, cap, DC_RTP_HEADER_MIN);
  dc_rtp pkt;
  if (st != DC_OK)
    return st;
  if ((st = dc_rtp_parse_header(&pkt, buf, *len)) != DC_OK)
    return st;
  half *h = &s->rtp;
  stream *str = find_stream(h, pkt.ssrc);
  const stream *cur = str ? str : &unseen;
  /* Our own sequence numbers: a wrap since the highest one sent moves the ROC on, and a
   * packet from before it (never sent, or refused below) takes the ROC before. */
  int64_t index = estimate_index(cur, pkt.seq);
  uint64_t fp = 0;
  if ((st = outbound_check(cur, h->window, index, buf, *len, &fp)) != DC_OK) {
    s->refused++;
    return st;
  }
  if (!str && !(str = add_stream(h, pkt.ssrc))) {
    s->refused++;
    return DC_ERR_STATE; /* more SSRCs than a session sends: refuse rather than forget one */
  }
  uint32_t roc = (uint32_t)(index >> 16);
  size_t hl = pkt.payload_off, n = *len - hl;
  if (s->profile == DC_SRTP_AEAD_AES_128_GCM) {
    uint8_t iv[12];
    gcm_iv(iv, h->salt, pkt.ssrc, roc, pkt.seq, false);
    if (!gcm(h->ctx, true, iv, buf, hl, buf + hl, n, buf + *len))
      return DC_ERR_INTERNAL;
    *len += GCM_TAG;
  } else {
    uint8_t iv[16], r[4];
    cm_iv(iv, h->salt, pkt.ssrc, (uint64_t)index);
    if (!ctr(h->ctx, iv, buf + hl, n))
      return DC_ERR_INTERNAL;
    dc_wr32(r, roc);
    if (!hmac80(h->mac, buf, *len, r, 4, buf + *len))
      return DC_ERR_INTERNAL;
    *len += CM_TAG;
  }
  accept_rtp_index(str, h->window, (uint64_t)index, ++h->clock);
  audit_record(str, h->window, (uint64_t)index, fp);
  return DC_OK;
}

dc_status dc_srtp_unprotect(dc_srtp *s, uint8_t *buf, size_t *len) {
  bool gcm_profile = s->profile == DC_SRTP_AEAD_AES_128_GCM;
  size_t tag = gcm_profile ? GCM_TAG : CM_TAG;
  if (*len < DC_RTP_HEADER_MIN + tag)
    return DC_ERR_TRUNCATED;
  dc_rtp pkt;
  /* The padding count is the payload's last byte: still encrypted here. */
  dc_status st = dc_rtp_parse_header(&pkt, buf, *len - tag);
  if (st != DC_OK)
    return st;
  half *h = &s->rtp;
  /* Nothing below changes state until the tag has verified: a forged packet, whatever its
   * SSRC, neither makes, moves nor evicts a stream. */
  stream *str = find_stream(h, pkt.ssrc);
  int64_t index = estimate_index(str ? str : &unseen, pkt.seq);
  if ((st = window_check(str ? str : &unseen, h->window, index)) != DC_OK)
    return st;
  uint32_t roc = (uint32_t)(index >> 16);
  size_t hl = pkt.payload_off, n = *len - tag - hl;
  if (gcm_profile) {
    uint8_t iv[12];
    gcm_iv(iv, h->salt, pkt.ssrc, roc, pkt.seq, false);
    if (!gcm(h->ctx, false, iv, buf, hl, buf + hl, n, buf + hl + n))
      return DC_ERR_AUTH;
  } else {
    uint8_t want[CM_TAG], r[4], iv[16];
    dc_wr32(r, roc);
    if (!hmac80(h->mac, buf, *len - tag, r, 4, want) ||
        CRYPTO_memcmp(want, buf + *len - tag, CM_TAG) != 0)
      return DC_ERR_AUTH;
    cm_iv(iv, h->salt, pkt.ssrc, (uint64_t)index);
    if (!ctr(h->ctx, iv, buf + hl, n))
      return DC_ERR_INTERNAL;
  }
  /* Authenticated: now the index may move the state on (RFC 3711 §3.3.1). */
  if (!str)
    str = add_stream(h, pkt.ssrc);
  accept_rtp_index(str, h->window, (uint64_t)index, ++h->clock);
  *len -= tag;
  return DC_OK;
}

dc_status dc_srtp_protect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
  dc_status st = check_room(*len, cap, 8);
  if (st != DC_OK)
    return st;
  if (!s->srtcp_index) {
    s->refused++;
    return DC_ERR_STATE; /* all 2^31 indices used: the session must be keyed again */
  }
  uint32_t ssrc = dc_rd32(buf + 4), index = s->srtcp_index;
  s->srtcp_index = (s->srtcp_index + 1) & 0x7FFFFFFFu;
  uint8_t e_index[4];
  dc_wr32(e_index, 0x80000000u | index); /* always encrypted */
  size_t n = *len - 8;
  if (s->profile == DC_SRTP_AEAD_AES_128_GCM) {
    uint8_t iv[12], aad[12];
    gcm_iv(iv, s->rtcp.salt, ssrc, index, 0, true);
    memcpy(aad, buf, 8);
    memcpy(aad + 8, e_index, 4);
    if (!gcm(s->rtcp.ctx, true, iv, aad, 12, buf + 8, n, buf + *len))
      return DC_ERR_INTERNAL;
    memcpy(buf + *len + GCM_TAG, e_index, 4);
    *len += GCM_TAG + 4;
  } else {
    uint8_t iv[16];
    cm_iv(iv, s->rtcp.salt, ssrc, index);
    if (!ctr(s->rtcp.ctx, iv, buf + 8, n))
      return DC_ERR_INTERNAL;
    memcpy(buf + *len, e_index, 4);
    if (!hmac80(s->rtcp.mac, buf, *len + 4, NULL, 0, buf + *len + 4))
      return DC_ERR_INTERNAL;
    *len += 4 + CM_TAG;
  }
  return DC_OK;
}

dc_status dc_srtp_unprotect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len) {
  bool gcm_profile = s->profile == DC_SRTP_AEAD_AES_128_GCM;
  size_t tag = gcm_profile ? GCM_TAG : CM_TAG;
  if (*len < 8 + tag + 4)
    return DC_ERR_TRUNCATED;
  uint32_t ssrc = dc_rd32(buf + 4);
  /* GCM: header | ciphertext | tag | E+index. CM: header | ciphertext | E+index | tag. */
  const uint8_t *e_pos = gcm_profile ? buf + *len - 4 : buf + *len - tag - 4;
  uint32_t e_index = dc_rd32(e_pos), index = e_index & 0x7FFFFFFFu;
  if (!(e_index & 0x80000000u))
    return DC_ERR_UNSUPPORTED; /* unencrypted SRTCP: no browser sends it */
  half *h = &s->rtcp;
  stream *str = find_stream(h, ssrc); /* as for SRTP: no change yet */
  dc_status st = window_check(str ? str : &unseen, h->window, index);
  if (st != DC_OK)
    return st;
  size_t n = *len - 8 - tag - 4;
  if (gcm_profile) {
    uint8_t iv[12], aad[12];
    gcm_iv(iv, h->salt, ssrc, index, 0, true);
    memcpy(aad, buf, 8);
    memcpy(aad + 8, e_pos, 4);
    if (!gcm(h->ctx, false, iv, aad, 12, buf + 8, n, buf + 8 + n))
      return DC_ERR_AUTH;
  } else {
    uint8_t want[CM_TAG], iv[16];
    if (!hmac80(h->mac, buf, *len - tag, NULL, 0, want) ||
        CRYPTO_memcmp(want, buf + *len - tag, CM_TAG) != 0)
      return DC_ERR_AUTH;
    cm_iv(iv, h->salt, ssrc, index);
    if (!ctr(h->ctx, iv, buf + 8, n))
      return DC_ERR_INTERNAL;
  }
  if (!str)
    str = add_stream(h, ssrc);
  window_add(str, h->window, index);
  str->last_use = ++h->clock;
  *len = 8 + n;
  return DC_OK;
}
