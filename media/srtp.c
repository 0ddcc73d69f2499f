/* srtp.c — thin libsrtp2 wrapper; see srtp.h. The wrapper adds length and capacity checks
 * and status mapping; all cryptography is libsrtp's. */
#include "media/srtp.h"

#include <limits.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(DC_SRTP_MAX_TRAILER >= SRTP_MAX_TRAILER_LEN + 4, "trailer room below libsrtp's");

struct dc_srtp {
  srtp_t ctx;
  dc_srtp_profile profile;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_fail;

static void init_libsrtp(void) { init_status = srtp_init(); }

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

static dc_status map_status(srtp_err_status_t st) {
  switch (st) {
  case srtp_err_status_ok: return DC_OK;
  case srtp_err_status_auth_fail: return DC_ERR_AUTH;
  case srtp_err_status_replay_fail:
  case srtp_err_status_replay_old: return DC_ERR_REPLAY;
  case srtp_err_status_bad_param:
  case srtp_err_status_parse_err: return DC_ERR_MALFORMED;
  case srtp_err_status_no_ctx: return DC_ERR_STATE;
  default: return DC_ERR_INTERNAL;
  }
}

dc_srtp *dc_srtp_new(dc_srtp_profile profile, const uint8_t *key, const uint8_t *salt,
                     dc_srtp_direction direction, dc_status *status) {
  dc_status dummy;
  status = status ? status : &dummy;
  pthread_once(&init_once, init_libsrtp);
  if (init_status != srtp_err_status_ok) {
    *status = DC_ERR_INTERNAL;
    return NULL;
  }
  size_t klen = dc_srtp_key_len(profile), slen = dc_srtp_salt_len(profile);
  if (!klen) {
    *status = DC_ERR_UNSUPPORTED;
    return NULL;
  }
  uint8_t master[DC_SRTP_MAX_KEY + DC_SRTP_MAX_SALT];
  memcpy(master, key, klen);
  memcpy(master + klen, salt, slen);

  srtp_policy_t policy;
  memset(&policy, 0, sizeof policy);
  if (profile == DC_SRTP_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  }
  policy.ssrc.type = direction == DC_SRTP_INBOUND ? ssrc_any_inbound : ssrc_any_outbound;
  policy.key = master;
  policy.window_size = 1024;
  policy.allow_repeat_tx = direction == DC_SRTP_OUTBOUND;
  policy.next = NULL;

  dc_srtp *s = calloc(1, sizeof *s);
  if (!s) {
    *status = DC_ERR_INTERNAL;
    return NULL;
  }
  srtp_err_status_t st = srtp_create(&s->ctx, &policy);
  memset(master, 0, sizeof master);
  if (st != srtp_err_status_ok) {
    free(s);
    *status = map_status(st);
    return NULL;
  }
  s->profile = profile;
  *status = DC_OK;
  return s;
}

void dc_srtp_free(dc_srtp *s) {
  if (!s)
    return;
  srtp_dealloc(s->ctx);
  free(s);
}

dc_srtp_profile dc_srtp_get_profile(const dc_srtp *s) { return s->profile; }

/* libsrtp takes an int length and trusts the buffer to have trailer room: both are
 * checked here, once, so a wire length can never make it write past the caller's buffer. */
static dc_status run(srtp_err_status_t (*fn)(srtp_t, void *, int *), srtp_t ctx, uint8_t *buf,
                     size_t *len, size_t cap, size_t min_len) {
  if (*len < min_len)
    return DC_ERR_TRUNCATED;
  if (cap < *len || cap - *len < DC_SRTP_MAX_TRAILER || cap > INT_MAX)
    return DC_ERR_NO_SPACE;
  int n = (int)*len;
  dc_status st = map_status(fn(ctx, buf, &n));
  if (st == DC_OK)
    *len = (size_t)n;
  return st;
}

dc_status dc_srtp_protect(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
  return run(srtp_protect, s->ctx, buf, len, cap, 12);
}

dc_status dc_srtp_protect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len, size_t cap) {
  return run(srtp_protect_rtcp, s->ctx, buf, len, cap, 8);
}

/* Unprotect only shrinks the packet, so no trailer room is needed. */
static dc_status run_in(srtp_err_status_t (*fn)(srtp_t, void *, int *), srtp_t ctx, uint8_t *buf,
                        size_t *len, size_t min_len) {
  if (*len < min_len)
    return DC_ERR_TRUNCATED;
  if (*len > INT_MAX)
    return DC_ERR_MALFORMED;
  int n = (int)*len;
  dc_status st = map_status(fn(ctx, buf, &n));
  if (st == DC_OK)
    *len = (size_t)n;
  return st;
}

dc_status dc_srtp_unprotect(dc_srtp *s, uint8_t *buf, size_t *len) {
  return run_in(srtp_unprotect, s->ctx, buf, len, 12);
}

dc_status dc_srtp_unprotect_rtcp(dc_srtp *s, uint8_t *buf, size_t *len) {
  return run_in(srtp_unprotect_rtcp, s->ctx, buf, len, 8);
}
