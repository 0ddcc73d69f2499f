/* Unit tests for media/srtp.
 *
 * libsrtp takes master keys only, so the RFC packet vectors (which give session keys) cannot
 * be fed to it directly. Instead this file carries a small, independent reference of the
 * SRTP transforms on OpenSSL primitives, pins that reference to the RFC vectors
 * (RFC 3711 B.2 keystream, B.3 key derivation; RFC 7714 §16.1.1 GCM packet), and then
 * requires the wrapper's output to equal the reference byte for byte, both ways, for both
 * profiles, across a sequence-number wrap and for SRTCP.
 */
#include <glib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "media/rtp.h"
#include "media/srtp.h"

/* ---------- helpers ---------- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  for (const char *p = hex; *p;) {
    if (g_ascii_isspace(*p)) {
      p++;
      continue;
    }
    g_assert_cmpuint(n, <, cap);
    out[n++] = (uint8_t)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
    p += 2;
  }
  return n;
}

static void aes_ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                    size_t n) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len;
  g_assert_true(EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv));
  g_assert_true(EVP_EncryptUpdate(c, out, &len, in, (int)n));
  EVP_CIPHER_CTX_free(c);
}

/* RFC 3711 §4.3.1/§4.3.3 with kdr = 0: AES-CM of (master_salt XOR label<<48) under the master
 * key. A 96-bit GCM salt is padded with zeros on the right to 112 bits. */
static void kdf(const uint8_t *mkey, const uint8_t *msalt, size_t salt_len, uint8_t label,
                uint8_t *out, size_t n) {
  uint8_t iv[16] = {0}, zeros[64] = {0};
  memcpy(iv, msalt, salt_len);
  iv[7] ^= label;
  aes_ctr(mkey, iv, zeros, out, n);
}

typedef struct {
  bool gcm;
  uint8_t rtp_key[16], rtp_auth[20], rtp_salt[14];
  uint8_t rtcp_key[16], rtcp_auth[20], rtcp_salt[14];
} ref_keys;

static void ref_derive(ref_keys *k, bool gcm, const uint8_t *mkey, const uint8_t *msalt) {
  size_t sl = gcm ? 12 : 14;
  k->gcm = gcm;
  kdf(mkey, msalt, sl, 0, k->rtp_key, 16);
  kdf(mkey, msalt, sl, 1, k->rtp_auth, 20);
  kdf(mkey, msalt, sl, 2, k->rtp_salt, sl);
  kdf(mkey, msalt, sl, 3, k->rtcp_key, 16);
  kdf(mkey, msalt, sl, 4, k->rtcp_auth, 20);
  kdf(mkey, msalt, sl, 5, k->rtcp_salt, sl);
}

static size_t gcm_seal(const uint8_t key[16], const uint8_t iv[12], const uint8_t *aad,
                       size_t aad_len, const uint8_t *in, size_t n, uint8_t *out) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len;
  g_assert_true(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv));
  g_assert_true(EVP_EncryptUpdate(c, NULL, &len, aad, (int)aad_len));
  g_assert_true(EVP_EncryptUpdate(c, out, &len, in, (int)n));
  g_assert_true(EVP_EncryptFinal_ex(c, out + n, &len));
  g_assert_true(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n));
  EVP_CIPHER_CTX_free(c);
  return n + 16;
}

/* Reference SRTP protect (RFC 3711 §3.1, §4.1.1, §4.2; RFC 7714 §8). Returns the length. */
static size_t ref_protect_rtp(const ref_keys *k, const uint8_t *pkt, size_t len, uint32_t roc,
                              uint8_t *out) {
  dc_rtp rtp;
  g_assert_cmpint(dc_rtp_parse(&rtp, pkt, len), ==, DC_OK);
  size_t hdr = rtp.payload_off, body = len - hdr;
  memcpy(out, pkt, hdr);
  if (k->gcm) {
    uint8_t iv[12] = {0};
    dc_wr32(iv + 2, rtp.ssrc);
    dc_wr32(iv + 6, roc);
    dc_wr16(iv + 10, rtp.seq);
    for (int i = 0; i < 12; i++)
      iv[i] ^= k->rtp_salt[i];
    return hdr + gcm_seal(k->rtp_key, iv, pkt, hdr, pkt + hdr, body, out + hdr);
  }
  uint8_t iv[16] = {0};
  memcpy(iv, k->rtp_salt, 14);
  uint8_t s[4], idx[6];
  dc_wr32(s, rtp.ssrc);
  dc_wr16(idx, (uint16_t)(roc >> 16));
  dc_wr32(idx + 2, roc << 16 | rtp.seq);
  for (int i = 0; i < 4; i++)
    iv[4 + i] ^= s[i];
  for (int i = 0; i < 6; i++)
    iv[8 + i] ^= idx[i];
  aes_ctr(k->rtp_key, iv, pkt + hdr, out + hdr, body);
  uint8_t mac[20];
  unsigned mac_len;
  uint8_t *authed = g_malloc(len + 4);
  memcpy(authed, out, len);
  dc_wr32(authed + len, roc);
  HMAC(EVP_sha1(), k->rtp_auth, 20, authed, len + 4, mac, &mac_len);
  g_free(authed);
  memcpy(out + len, mac, 10);
  return len + 10;
}

/* Reference SRTCP protect with encryption on (RFC 3711 §3.4; RFC 7714 §9). */
static size_t ref_protect_rtcp(const ref_keys *k, const uint8_t *pkt, size_t len, uint32_t index,
                               uint8_t *out) {
  uint32_t ssrc = dc_rd32(pkt + 4);
  uint32_t e_index = 0x80000000u | index;
  memcpy(out, pkt, 8);
  if (k->gcm) {
    uint8_t iv[12] = {0}, aad[12];
    dc_wr32(iv + 2, ssrc);
    dc_wr32(iv + 8, index);
    for (int i = 0; i < 12; i++)
      iv[i] ^= k->rtcp_salt[i];
    memcpy(aad, pkt, 8);
    dc_wr32(aad + 8, e_index);
    size_t n = gcm_seal(k->rtcp_key, iv, aad, 12, pkt + 8, len - 8, out + 8);
    dc_wr32(out + 8 + n, e_index);
    return 8 + n + 4;
  }
  uint8_t iv[16] = {0};
  memcpy(iv, k->rtcp_salt, 14);
  uint8_t s[4], idx[6] = {0};
  dc_wr32(s, ssrc);
  dc_wr32(idx + 2, index);
  for (int i = 0; i < 4; i++)
    iv[4 + i] ^= s[i];
  for (int i = 0; i < 6; i++)
    iv[8 + i] ^= idx[i];
  aes_ctr(k->rtcp_key, iv, pkt + 8, out + 8, len - 8);
  dc_wr32(out + len, e_index);
  uint8_t mac[20];
  unsigned mac_len;
  HMAC(EVP_sha1(), k->rtcp_auth, 20, out, len + 4, mac, &mac_len);
  memcpy(out + len + 4, mac, 10);
  return len + 14;
}

/* ---------- the reference, pinned to the RFC vectors ---------- */

static void test_rfc3711_b3_kdf(void) {
  uint8_t mk[16], ms[14], want[20], got[20];
  unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, sizeof mk);
  unhex("0EC675AD498AFEEBB6960B3AABE6", ms, sizeof ms);
  kdf(mk, ms, 14, 0, got, 16);
  unhex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof want);
  g_assert_cmpmem(got, 16, want, 16);
  kdf(mk, ms, 14, 2, got, 14);
  unhex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof want);
  g_assert_cmpmem(got, 14, want, 14);
  kdf(mk, ms, 14, 1, got, 20);
  unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want, sizeof want);
  g_assert_cmpmem(got, 20, want, 20);
}

static void test_rfc3711_b2_keystream(void) {
  uint8_t key[16], iv[16];
  unhex("2B7E151628AED2A6ABF7158809CF4F3C", key, sizeof key);
  unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", iv, sizeof iv);
  size_t n = 0xff02 * 16;
  uint8_t *zeros = g_malloc0(n), *ks = g_malloc(n);
  aes_ctr(key, iv, zeros, ks, n);
  struct {
    size_t block;
    const char *hex;
  } want[] = {{0x0000, "E03EAD0935C95E80E166B16DD92B4EB4"},
              {0x0001, "D23513162B02D0F72A43A2FE4A5F97AB"},
              {0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0"},
              {0xfeff, "EC8CDF7398607CB0F2D21675EA9EA1E4"},
              {0xff00, "362B7C3C6773516318A077D7FC5073AE"},
              {0xff01, "6A2CC3787889374FBEB4C81B17BA6C44"}};
  for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
    uint8_t block[16];
    unhex(want[i].hex, block, sizeof block);
    g_assert_cmpmem(ks + 16 * want[i].block, 16, block, 16);
  }
  g_free(zeros);
  g_free(ks);
}

static void test_rfc7714_16_gcm_packet(void) {
  ref_keys k = {.gcm = true};
  unhex("000102030405060708090a0b0c0d0e0f", k.rtp_key, 16);
  unhex("517569642070726f2071756f", k.rtp_salt, 12);
  uint8_t plain[64], want[96], got[96];
  size_t plen = unhex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973"
                      "20646976 69736120 696e2070 61727465 73207472 6573",
                      plain, sizeof plain);
  size_t wlen = unhex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca"
                      "be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1"
                      "6a9152cf 765ee439 0cce",
                      want, sizeof want);
  size_t glen = ref_protect_rtp(&k, plain, plen, 0, got);
  g_assert_cmpmem(got, glen, want, wlen);
}

/* ---------- the wrapper against the reference ---------- */

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload, uint8_t fill) {
  uint8_t lvl = 0x80 | 30;
  dc_rtp_ext_elem ext = {1, 1, &lvl};
  dc_rtp_header h = {.payload_type = 111, .seq = seq, .timestamp = seq * 960u, .ssrc = ssrc};
  size_t n = dc_rtp_write_header(buf, 64, &h, &ext, 1);
  for (size_t i = 0; i < payload; i++)
    buf[n + i] = (uint8_t)(fill + i);
  return n + payload;
}

static void check_profile_rtp(dc_srtp_profile profile) {
  GRand *rng = g_rand_new_with_seed(profile);
  uint8_t mk[16], ms[14];
  for (size_t i = 0; i < 16; i++)
    mk[i] = (uint8_t)g_rand_int(rng);
  for (size_t i = 0; i < 14; i++)
    ms[i] = (uint8_t)g_rand_int(rng);
  bool gcm = profile == DC_SRTP_AEAD_AES_128_GCM;
  ref_keys k;
  ref_derive(&k, gcm, mk, ms);
  dc_status st;
  dc_srtp *out = dc_srtp_new(profile, mk, ms, DC_SRTP_OUTBOUND, &st);
  dc_srtp *in = dc_srtp_new(profile, mk, ms, DC_SRTP_INBOUND, &st);
  g_assert_nonnull(out);
  g_assert_nonnull(in);
  g_assert_cmpint(dc_srtp_get_profile(out), ==, profile);

  uint32_t roc = 0;
  uint16_t seq = 65530; /* crosses the wrap: the rollover counter enters the IV and tag */
  for (int i = 0; i < 12; i++, seq++) {
    if (seq == 0)
      roc++;
    size_t sizes[] = {160, 1200};
    uint8_t pkt[2048], ref[2048];
    size_t len = make_rtp(pkt, seq, 0xCAFE0000u + (uint32_t)(i % 2), sizes[i % 2], (uint8_t)i);
    size_t plain_len = len;
    uint8_t plain[2048];
    memcpy(plain, pkt, len);
    size_t ref_len = ref_protect_rtp(&k, pkt, len, roc, ref);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
    g_assert_cmpuint(len, ==, plain_len + dc_srtp_rtp_trailer(out)); /* what the outbox's runs count on */
    g_assert_cmpmem(pkt, len, ref, ref_len);
    /* and the inbound session opens what the reference sealed */
    g_assert_cmpint(dc_srtp_unprotect(in, ref, &ref_len), ==, DC_OK);
    g_assert_cmpmem(ref, ref_len, plain, plain_len);
  }
  dc_srtp_free(out);
  dc_srtp_free(in);
  g_rand_free(rng);
}

static void test_wrapper_cm_matches_reference(void) { check_profile_rtp(DC_SRTP_AES128_CM_SHA1_80); }
static void test_wrapper_gcm_matches_reference(void) { check_profile_rtp(DC_SRTP_AEAD_AES_128_GCM); }

static void check_profile_rtcp(dc_srtp_profile profile) {
  uint8_t mk[16], ms[14];
  for (int i = 0; i < 16; i++)
    mk[i] = (uint8_t)(i * 11 + 3);
  for (int i = 0; i < 14; i++)
    ms[i] = (uint8_t)(i * 7 + 1);
  bool gcm = profile == DC_SRTP_AEAD_AES_128_GCM;
  ref_keys k;
  ref_derive(&k, gcm, mk, ms);
  dc_srtp *out = dc_srtp_new(profile, mk, ms, DC_SRTP_OUTBOUND, NULL);
  dc_srtp *in = dc_srtp_new(profile, mk, ms, DC_SRTP_INBOUND, NULL);
  for (int i = 0; i < 3; i++) {
    /* an RR with one block (32 bytes) */
    uint8_t pkt[256] = {0x81, 201, 0, 7, 0x11, 0x22, 0x33, 0x44}, ref[256], plain[256];
    for (int b = 8; b < 32; b++)
      pkt[b] = (uint8_t)(b + i);
    size_t len = 32;
    memcpy(plain, pkt, len);
    g_assert_cmpint(dc_srtp_protect_rtcp(out, pkt, &len, sizeof pkt), ==, DC_OK);
    size_t tag = gcm ? 16 : 10;
    g_assert_cmpuint(len, ==, 32 + tag + 4);
    uint32_t e_index = dc_rd32(pkt + (gcm ? len - 4 : 32));
    g_assert_true(e_index & 0x80000000u); /* encrypted */
    size_t ref_len = ref_protect_rtcp(&k, plain, 32, e_index & 0x7FFFFFFFu, ref);
    g_assert_cmpmem(pkt, len, ref, ref_len);
    g_assert_cmpint(dc_srtp_unprotect_rtcp(in, pkt, &len), ==, DC_OK);
    g_assert_cmpmem(pkt, len, plain, 32);
  }
  dc_srtp_free(out);
  dc_srtp_free(in);
}

static void test_rtcp_cm_matches_reference(void) { check_profile_rtcp(DC_SRTP_AES128_CM_SHA1_80); }
static void test_rtcp_gcm_matches_reference(void) { check_profile_rtcp(DC_SRTP_AEAD_AES_128_GCM); }

static void test_replay_auth_and_bounds(void) {
  const dc_srtp_profile profiles[] = {DC_SRTP_AES128_CM_SHA1_80, DC_SRTP_AEAD_AES_128_GCM};
  for (size_t p = 0; p < 2; p++) {
    uint8_t mk[16] = {1}, ms[14] = {2};
    dc_srtp *out = dc_srtp_new(profiles[p], mk, ms, DC_SRTP_OUTBOUND, NULL);
    dc_srtp *in = dc_srtp_new(profiles[p], mk, ms, DC_SRTP_INBOUND, NULL);
    uint8_t pkt[512], copy[512];
    size_t len = make_rtp(pkt, 5000, 9, 100, 0);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, len + 10), ==, DC_ERR_NO_SPACE);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
    size_t plen = len;
    memcpy(copy, pkt, len);
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
    memcpy(pkt, copy, plen);
    len = plen;
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_ERR_REPLAY);

    /* a flipped payload bit fails authentication */
    len = make_rtp(pkt, 5001, 9, 100, 0);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
    pkt[30] ^= 1;
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_ERR_AUTH);
    /* and a truncated one is refused without reading past it */
    len = 11;
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_ERR_TRUNCATED);
    len = 7;
    g_assert_cmpint(dc_srtp_unprotect_rtcp(in, pkt, &len), ==, DC_ERR_TRUNCATED);

    /* outbound never protects an index twice, not even with the same bytes: repairs go
     * out as RTX under indices of their own */
    len = make_rtp(pkt, 5002, 9, 100, 0);
    size_t l2 = len;
    memcpy(copy, pkt, len);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
    g_assert_cmpint(dc_srtp_protect(out, copy, &l2, sizeof copy), ==, DC_ERR_REPLAY);
    g_assert_cmpint(dc_srtp_refused(out), ==, 1);
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);

    /* far behind the 1024-packet window: too old */
    for (uint16_t s = 5003; s < 5003 + 1100; s++) {
      len = make_rtp(pkt, s, 9, 20, 0);
      g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
      if (s == 5010)
        memcpy(copy, pkt, plen = len);
      else
        g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
    }
    g_assert_cmpint(dc_srtp_unprotect(in, copy, &plen), ==, DC_ERR_REPLAY);
    dc_srtp_free(out);
    dc_srtp_free(in);
  }
}

/* The replay window against a model of it: packets of indices 0..N-1 protected in order,
 * then received as a link and a replayer would bring them (in order, ahead by a jump,
 * behind by up to a little more than the window, again). A packet is taken exactly when it is
 * the first of its index and that index is above the highest taken or within 1024 of it.
 * The window is a ring cleared as the highest index moves (a shifted bitmap before). */
#define MODEL_PACKETS 20000 /* all under 32768: the ROC stays 0 and guesses nothing */
static void test_replay_window_model(void) {
  uint8_t mk[16] = {5}, ms[14] = {6};
  dc_srtp *out = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_OUTBOUND, NULL);
  dc_srtp *in = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_INBOUND, NULL);
  enum { CAP = 256 }; /* the packet and room for any trailer (DC_SRTP_MAX_TRAILER) */
  uint8_t(*sealed)[CAP] = g_malloc(sizeof *sealed * MODEL_PACKETS);
  size_t *sealed_len = g_new(size_t, MODEL_PACKETS);
  for (unsigned i = 0; i < MODEL_PACKETS; i++) {
    sealed_len[i] = make_rtp(sealed[i], (uint16_t)i, 9, 8, 0);
    g_assert_cmpint(dc_srtp_protect(out, sealed[i], &sealed_len[i], CAP), ==, DC_OK);
  }
  bool *taken = g_new0(bool, MODEL_PACKETS);
  GRand *rng = g_rand_new_with_seed(1234);
  int64_t highest = -1;
  unsigned accepted = 0, refused = 0, next = 0;
  for (unsigned step = 0; step < 60000; step++) {
    int64_t idx;
    int r = g_rand_int_range(rng, 0, 1000);
    if (r < 750)
      idx = highest + 1;
    else if (r < 753) /* a jump ahead leaves holes for the steps back to fill */
      idx = highest + g_rand_int_range(rng, 2, 1500);
    else if (r < 950)
      idx = highest - g_rand_int_range(rng, 0, 1100);
    else
      idx = next ? next - 1 : 0;
    if (idx >= MODEL_PACKETS)
      break;
    if (idx < 0)
      continue;
    bool want = !taken[idx] && (idx > highest || highest - idx < 1024);
    uint8_t pkt[CAP];
    size_t len = sealed_len[idx];
    memcpy(pkt, sealed[idx], len);
    dc_status st = dc_srtp_unprotect(in, pkt, &len);
    if ((st == DC_OK) != want)
      g_error("step %u: index %" G_GINT64_FORMAT " with the highest %" G_GINT64_FORMAT " was %s; the model %s it",
              step, idx, highest, st == DC_OK ? "taken" : "refused", want ? "takes" : "refuses");
    if (want) {
      taken[idx] = true;
      highest = MAX(highest, idx);
      accepted++;
    } else {
      g_assert_cmpint(st, ==, DC_ERR_REPLAY);
      refused++;
    }
    next = (unsigned)idx + 1;
  }
  g_test_message("%u packets taken, %u refused as replays or too old", accepted, refused);
  g_assert_cmpuint(accepted, >, 3000);
  g_assert_cmpuint(refused, >, 500);
  g_rand_free(rng);
  g_free(taken);
  g_free(sealed_len);
  g_free(sealed);
  dc_srtp_free(out);
  dc_srtp_free(in);
}

/* Found by fuzz_srtp: a padded packet's padding count is encrypted, so unprotect must not
 * judge the padding before decrypting. */
static void test_padded_packets(void) {
  const dc_srtp_profile profiles[] = {DC_SRTP_AES128_CM_SHA1_80, DC_SRTP_AEAD_AES_128_GCM};
  for (size_t p = 0; p < 2; p++) {
    uint8_t mk[16] = {3}, ms[14] = {4};
    dc_srtp *out = dc_srtp_new(profiles[p], mk, ms, DC_SRTP_OUTBOUND, NULL);
    dc_srtp *in = dc_srtp_new(profiles[p], mk, ms, DC_SRTP_INBOUND, NULL);
    uint8_t pkt[256], plain[256];
    size_t len = make_rtp(pkt, 77, 5, 20, 0);
    pkt[0] |= 0x20; /* padding: the last 4 bytes, count 4 */
    pkt[len - 1] = 4;
    memcpy(plain, pkt, len);
    size_t plain_len = len;
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
    g_assert_cmpmem(pkt, len, plain, plain_len);
    dc_srtp_free(out);
    dc_srtp_free(in);
  }
}

/* More SSRCs than the per-session table holds (16): cold streams churn through it, but a
 * busy one (the camera, say) keeps its place and its replay window, so an old packet of
 * it is still refused after forty others came and went. */
static void test_many_ssrcs(void) {
  uint8_t mk[16] = {5}, ms[14] = {6};
  dc_srtp *out = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_OUTBOUND, NULL);
  dc_srtp *in = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_INBOUND, NULL);
  uint8_t pkt[256], old_hot[256];
  size_t len, old_len = 0;
  uint16_t hot_seq = 500;
  for (int round = 0; round < 5; round++)
    for (uint32_t ssrc = 100; ssrc < 140; ssrc++) {
      len = make_rtp(pkt, (uint16_t)(1000 + round), ssrc, 40, (uint8_t)ssrc);
      g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
      g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
      len = make_rtp(pkt, hot_seq++, 1, 40, 7); /* the busy stream, between every cold one */
      g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
      if (round == 0 && ssrc == 110)
        memcpy(old_hot, pkt, old_len = len);
      g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
    }
  g_assert_cmpint(dc_srtp_unprotect(in, old_hot, &old_len), ==, DC_ERR_REPLAY);
  dc_srtp_free(out);
  dc_srtp_free(in);
}


/* ---------- the security model (srtp.h), one attack each ---------- */

static const dc_srtp_profile both[] = {DC_SRTP_AES128_CM_SHA1_80, DC_SRTP_AEAD_AES_128_GCM};

/* A packet with a random tag: what someone without the keys can send. */
static size_t forge_rtp(uint8_t *pkt, uint16_t seq, uint32_t ssrc) {
  size_t len = make_rtp(pkt, seq, ssrc, 60, 9);
  for (int i = 0; i < 16; i++)
    pkt[len++] = (uint8_t)g_test_rand_int();
  return len;
}

static size_t forge_rtcp(uint8_t *pkt, uint32_t ssrc, uint32_t index) {
  uint8_t rr[32] = {0x81, 201, 0, 7};
  memcpy(pkt, rr, 32);
  dc_wr32(pkt + 4, ssrc);
  for (int i = 8; i < 48; i++)
    pkt[i] = (uint8_t)g_test_rand_int();
  dc_wr32(pkt + 48, 0x80000000u | index); /* where GCM has it; CM reads it at 38 */
  dc_wr32(pkt + 38, 0x80000000u | index);
  return 52;
}

/* Protect must refuse this packet: its index was used before, for other bytes. A debug build
 * (DC_SRTP_AUDIT) also says so as a critical, which is expected here. */
static void refused_with_other_bytes(dc_srtp *out, uint8_t *buf, size_t *len, size_t cap) {
#ifdef DC_SRTP_AUDIT
  g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*protected again with other bytes*");
#endif
  g_assert_cmpint(dc_srtp_protect(out, buf, len, cap), ==, DC_ERR_REPLAY);
#ifdef DC_SRTP_AUDIT
  g_test_assert_expected_messages();
#endif
}

/* Issue 10, defect 1: forged packets with new SSRCs, all rejected, used to make and evict
 * per-SSRC state before the tag was checked. A real stream past a ROC wrap lost its replay
 * window (replays accepted) and its ROC (every later genuine packet failed). Now a forged
 * packet changes nothing: replays stay refused and the stream goes on. */
static void test_forged_ssrcs_change_nothing(void) {
  for (size_t p = 0; p < 2; p++) {
    uint8_t mk[16] = {7}, ms[14] = {8};
    dc_srtp *out = dc_srtp_new(both[p], mk, ms, DC_SRTP_OUTBOUND, NULL);
    dc_srtp *in = dc_srtp_new(both[p], mk, ms, DC_SRTP_INBOUND, NULL);
    uint8_t pkt[256], early[2][256];
    size_t len, early_len[2];
    /* the real stream: seq 65530 on, past a wrap, so its ROC is 1 */
    for (uint32_t i = 0; i < 12; i++) {
      uint16_t seq = (uint16_t)(65530 + i);
      len = make_rtp(pkt, seq, 0xAAAA, 40, (uint8_t)i);
      g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
      if (seq == 1 || seq == 2)
        memcpy(early[seq - 1], pkt, early_len[seq - 1] = len);
      g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
    }
    /* and its RTCP */
    uint8_t rtcp[256], early_rtcp[256];
    size_t rtcp_len, early_rtcp_len = 0;
    for (int i = 0; i < 3; i++) {
      uint8_t rr[32] = {0x81, 201, 0, 7, 0, 0, 0xAA, 0xAA};
      memcpy(rtcp, rr, rtcp_len = 32);
      g_assert_cmpint(dc_srtp_protect_rtcp(out, rtcp, &rtcp_len, sizeof rtcp), ==, DC_OK);
      if (i == 0)
        memcpy(early_rtcp, rtcp, early_rtcp_len = rtcp_len);
      g_assert_cmpint(dc_srtp_unprotect_rtcp(in, rtcp, &rtcp_len), ==, DC_OK);
    }
    /* 64 forged packets with new SSRCs, RTP and RTCP: each refused */
    for (uint32_t ssrc = 1; ssrc <= 64; ssrc++) {
      len = forge_rtp(pkt, (uint16_t)(ssrc * 1000), ssrc);
      g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_ERR_AUTH);
      rtcp_len = forge_rtcp(rtcp, ssrc, ssrc);
      g_assert_cmpint(dc_srtp_unprotect_rtcp(in, rtcp, &rtcp_len), ==, DC_ERR_AUTH);
    }
    /* the real stream's replay windows are whole */
    for (int i = 0; i < 2; i++) {
      memcpy(pkt, early[i], len = early_len[i]);
      g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_ERR_REPLAY);
    }
    memcpy(rtcp, early_rtcp, rtcp_len = early_rtcp_len);
    g_assert_cmpint(dc_srtp_unprotect_rtcp(in, rtcp, &rtcp_len), ==, DC_ERR_REPLAY);
    /* and its ROC: 1000 genuine packets after, every one accepted */
    int accepted = 0;
    for (uint16_t seq = 12; seq < 1012; seq++) {
      len = make_rtp(pkt, seq, 0xAAAA, 40, 1);
      g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
      accepted += dc_srtp_unprotect(in, pkt, &len) == DC_OK;
    }
    g_assert_cmpint(accepted, ==, 1000);
    dc_srtp_free(out);
    dc_srtp_free(in);
  }
}

/* Defect 2: a receiver's outbound session carries up to 19 SSRCs (audio, 9 video slots, 9
 * RTX), more than the old table of 16. A slot idle while the others sent was evicted and
 * came back at ROC 0, so (SSRC, index) repeated with new bytes after 65536 packets. Now the
 * idle stream keeps its ROC: a receiver that followed it still decrypts what comes next. */
static void test_outbound_streams_never_forgotten(void) {
  for (size_t p = 0; p < 2; p++) {
    uint8_t mk[16] = {9}, ms[14] = {10};
    dc_srtp *out = dc_srtp_new(both[p], mk, ms, DC_SRTP_OUTBOUND, NULL);
    dc_srtp *in = dc_srtp_new(both[p], mk, ms, DC_SRTP_INBOUND, NULL);
    uint8_t pkt[256], first[256];
    size_t len, first_len;
    /* the thumbnail: past a wrap, then idle */
    for (uint16_t seq = 65534; seq != 3; seq++) {
      len = make_rtp(pkt, seq, 0x7777, 40, 3);
      g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
      g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
    }
    /* 40 other SSRCs send meanwhile (more than any table held before) */
    for (uint32_t ssrc = 1; ssrc <= 40; ssrc++)
      for (uint16_t seq = 0; seq < 3; seq++) {
        len = make_rtp(pkt, seq, ssrc, 40, 4);
        g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
      }
    /* it comes back at ROC 1, which the receiver expects */
    len = make_rtp(pkt, 3, 0x7777, 40, 5);
    memcpy(first, pkt, first_len = len);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
    g_assert_cmpmem(pkt, len, first, first_len);
    /* and index 1 of ROC 1 (seq 1) is still refused with other bytes */
    len = make_rtp(pkt, 1, 0x7777, 40, 6);
    refused_with_other_bytes(out, pkt, &len, sizeof pkt);
    dc_srtp_free(out);
    dc_srtp_free(in);
  }
}

/* Defects 3 and 4, at the last line of defence: whatever a caller does, an index is
 * protected once. Same bytes or other bytes, the second protect is refused and leaves the
 * buffer as it was; so is an index too old to check. */
static void test_outbound_index_once(void) {
  for (size_t p = 0; p < 2; p++) {
    uint8_t mk[16] = {11}, ms[14] = {12};
    dc_srtp *out = dc_srtp_new(both[p], mk, ms, DC_SRTP_OUTBOUND, NULL);
    uint8_t a[256], b[256], keep[256];
    size_t la = make_rtp(a, 105, 0x5150, 80, 1), lb;
    g_assert_cmpint(dc_srtp_protect(out, a, &la, sizeof a), ==, DC_OK);
    for (uint16_t seq = 106; seq < 110; seq++) {
      lb = make_rtp(b, seq, 0x5150, 80, 2);
      g_assert_cmpint(dc_srtp_protect(out, b, &lb, sizeof b), ==, DC_OK);
    }
    /* a late packet of another source mapped onto seq 105: other bytes */
    lb = make_rtp(b, 105, 0x5150, 80, 3);
    memcpy(keep, b, lb);
    refused_with_other_bytes(out, b, &lb, sizeof b);
    g_assert_cmpmem(b, lb, keep, lb);
    /* a NACK repair restamped (other header bytes, same index): refused too */
    lb = make_rtp(b, 106, 0x5150, 80, 2);
    b[17] ^= 0x40; /* the audio level, as abs-send-time would be restamped */
    refused_with_other_bytes(out, b, &lb, sizeof b);
    /* the very same bytes again: refused, quietly */
    lb = make_rtp(b, 107, 0x5150, 80, 2);
    g_assert_cmpint(dc_srtp_protect(out, b, &lb, sizeof b), ==, DC_ERR_REPLAY);
    /* too old to tell (never used, but behind the window) */
    for (uint16_t seq = 110; seq < 1200; seq++) {
      lb = make_rtp(b, seq, 0x5150, 20, 2);
      g_assert_cmpint(dc_srtp_protect(out, b, &lb, sizeof b), ==, DC_OK);
    }
    lb = make_rtp(b, 100, 0x5150, 20, 2);
    g_assert_cmpint(dc_srtp_protect(out, b, &lb, sizeof b), ==, DC_ERR_REPLAY);
    g_assert_cmpint(dc_srtp_refused(out), ==, 4);
    /* unused indices inside the window are fine (a packet the router skipped) */
    lb = make_rtp(b, 1300, 0x5150, 20, 2);
    g_assert_cmpint(dc_srtp_protect(out, b, &lb, sizeof b), ==, DC_OK);
    lb = make_rtp(b, 1250, 0x5150, 20, 2);
    g_assert_cmpint(dc_srtp_protect(out, b, &lb, sizeof b), ==, DC_OK);
    dc_srtp_free(out);
  }
}

/* A session sends at most 256 SSRCs; the 257th is refused, never one of the first forgotten. */
static void test_outbound_table_full(void) {
  uint8_t mk[16] = {13}, ms[14] = {14};
  dc_srtp *out = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_OUTBOUND, NULL);
  uint8_t pkt[256];
  size_t len;
  for (uint32_t ssrc = 1; ssrc <= 256; ssrc++) {
    len = make_rtp(pkt, 10, ssrc, 20, 0);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
  }
  len = make_rtp(pkt, 10, 1000, 20, 0);
  g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_ERR_STATE);
  len = make_rtp(pkt, 10, 1, 20, 0); /* the first is still known: its index 10 is used */
  g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_ERR_REPLAY);
  len = make_rtp(pkt, 11, 1, 20, 0);
  g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
  dc_srtp_free(out);
}

/* Sixteen genuine SSRCs fill the inbound table; a seventeenth genuine one takes the place of
 * the least recently used. That is the only way a stream leaves: by the key holder's own
 * packets. */
static void test_inbound_eviction_only_by_genuine(void) {
  uint8_t mk[16] = {15}, ms[14] = {16};
  dc_srtp *out = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_OUTBOUND, NULL);
  dc_srtp *in = dc_srtp_new(DC_SRTP_AEAD_AES_128_GCM, mk, ms, DC_SRTP_INBOUND, NULL);
  uint8_t pkt[256], old[256];
  size_t len, old_len = 0;
  for (uint32_t ssrc = 1; ssrc <= 16; ssrc++) {
    len = make_rtp(pkt, 50, ssrc, 20, 0);
    g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
    if (ssrc == 1)
      memcpy(old, pkt, old_len = len);
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
  }
  for (int i = 0; i < 100; i++) { /* forged: nothing moves */
    len = forge_rtp(pkt, 7, (uint32_t)(500 + i));
    g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_ERR_AUTH);
  }
  memcpy(pkt, old, len = old_len);
  g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_ERR_REPLAY);
  len = make_rtp(pkt, 50, 17, 20, 0); /* genuine: SSRC 1, the oldest, gives way */
  g_assert_cmpint(dc_srtp_protect(out, pkt, &len, sizeof pkt), ==, DC_OK);
  g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
  memcpy(pkt, old, len = old_len);
  g_assert_cmpint(dc_srtp_unprotect(in, pkt, &len), ==, DC_OK);
  dc_srtp_free(out);
  dc_srtp_free(in);
}

static void test_bad_profile(void) {
  uint8_t k[16] = {0};
  dc_status st = DC_OK;
  g_assert_null(dc_srtp_new((dc_srtp_profile)0x0002, k, k, DC_SRTP_INBOUND, &st));
  g_assert_cmpint(st, ==, DC_ERR_UNSUPPORTED);
  g_assert_null(dc_srtp_profile_name((dc_srtp_profile)0x0002));
  g_assert_cmpstr(dc_srtp_profile_name(DC_SRTP_AEAD_AES_128_GCM), ==, "AEAD_AES_128_GCM");
  g_assert_cmpuint(dc_srtp_salt_len(DC_SRTP_AEAD_AES_128_GCM), ==, 12);
  dc_srtp_free(NULL);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/srtp/reference/rfc3711-b3-kdf", test_rfc3711_b3_kdf);
  g_test_add_func("/srtp/reference/rfc3711-b2-keystream", test_rfc3711_b2_keystream);
  g_test_add_func("/srtp/reference/rfc7714-16-gcm-packet", test_rfc7714_16_gcm_packet);
  g_test_add_func("/srtp/rtp/aes-cm-sha1-80", test_wrapper_cm_matches_reference);
  g_test_add_func("/srtp/rtp/aead-aes-128-gcm", test_wrapper_gcm_matches_reference);
  g_test_add_func("/srtp/rtcp/aes-cm-sha1-80", test_rtcp_cm_matches_reference);
  g_test_add_func("/srtp/rtcp/aead-aes-128-gcm", test_rtcp_gcm_matches_reference);
  g_test_add_func("/srtp/replay-auth-bounds", test_replay_auth_and_bounds);
  g_test_add_func("/srtp/replay-window-model", test_replay_window_model);
  g_test_add_func("/srtp/padded-packets", test_padded_packets);
  g_test_add_func("/srtp/many-ssrcs", test_many_ssrcs);
  g_test_add_func("/srtp/bad-profile", test_bad_profile);
  g_test_add_func("/srtp/security/forged-ssrcs-change-nothing", test_forged_ssrcs_change_nothing);
  g_test_add_func("/srtp/security/outbound-streams-never-forgotten", test_outbound_streams_never_forgotten);
  g_test_add_func("/srtp/security/outbound-index-once", test_outbound_index_once);
  g_test_add_func("/srtp/security/outbound-table-full", test_outbound_table_full);
  g_test_add_func("/srtp/security/inbound-eviction-only-by-genuine", test_inbound_eviction_only_by_genuine);
  return g_test_run();
}
