/* token.c — invitation tokens; see token.h. */
#include "signaling/token.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_QUARK(diemcau-token-error-quark, dc_token_error)

static char *b64url(const uint8_t *data, size_t len) {
  char *s = g_base64_encode(data, len);
  g_strdelimit(s, "+", '-');
  g_strdelimit(s, "/", '_');
  char *eq = strchr(s, '=');
  if (eq)
    *eq = '\0';
  return s;
}

/* Strict: only the base64url alphabet, no padding. Returns NULL when invalid. */
static uint8_t *b64url_decode(const char *s, size_t n, size_t *out_len) {
  if (n == 0 || n % 4 == 1)
    return NULL;
  char *std = g_malloc(n + 3);
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!g_ascii_isalnum(c) && c != '-' && c != '_') {
      g_free(std);
      return NULL;
    }
    std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  size_t m = n;
  while (m % 4)
    std[m++] = '=';
  std[m] = '\0';
  gsize len;
  uint8_t *out = g_base64_decode(std, &len);
  g_free(std);
  /* Several spellings decode to the same bytes (the unused low bits of the last
   * character): accept only the canonical one, so each token has one written form. */
  char *again = b64url(out, len);
  bool canonical = strlen(again) == n && memcmp(again, s, n) == 0;
  g_free(again);
  if (!canonical) {
    g_free(out);
    return NULL;
  }
  *out_len = len;
  return out;
}

static void mac(const uint8_t secret[32], const char *signed_part, size_t n, uint8_t out[32]) {
  GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, secret, 32);
  gsize len = 32;
  g_hmac_update(h, (const guchar *)signed_part, (gssize)n);
  g_hmac_get_digest(h, out, &len);
  g_hmac_unref(h);
}

char *dc_token_sign(const uint8_t secret[32], const dc_token_claims *c) {
  char payload[160];
  snprintf(payload, sizeof payload, "%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
           ":%s:%" G_GINT64_FORMAT, c->invitation_id, c->meeting_id, c->point_id, c->role,
           c->expires_at);
  char *body = b64url((const uint8_t *)payload, strlen(payload));
  char *signed_part = g_strconcat("dc1.", body, NULL);
  uint8_t tag[32];
  mac(secret, signed_part, strlen(signed_part), tag);
  char *tag64 = b64url(tag, sizeof tag);
  char *token = g_strconcat(signed_part, ".", tag64, NULL);
  g_free(body);
  g_free(signed_part);
  g_free(tag64);
  return token;
}

static bool invalid(GError **error) {
  g_set_error(error, DC_TOKEN_ERROR, DC_TOKEN_ERROR_INVALID, "the invitation link is not valid");
  return false;
}

static bool parse_id(const char *s, int64_t *out) {
  if (!*s || strlen(s) > 18)
    return false;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isdigit(*p))
      return false;
  *out = g_ascii_strtoll(s, NULL, 10);
  return true;
}

bool dc_token_verify(const uint8_t secret[32], const char *token, int64_t now,
                     dc_token_claims *c, GError **error) {
  if (!token)
    return invalid(error);
  size_t n = strnlen(token, DC_TOKEN_MAX_LEN + 1);
  if (n > DC_TOKEN_MAX_LEN || strncmp(token, "dc1.", 4) != 0)
    return invalid(error);
  const char *dot = strchr(token + 4, '.');
  if (!dot || strchr(dot + 1, '.'))
    return invalid(error);
  size_t tag_len;
  uint8_t *tag = b64url_decode(dot + 1, strlen(dot + 1), &tag_len);
  uint8_t want[32];
  mac(secret, token, (size_t)(dot - token), want);
  bool ok = tag && tag_len == 32 && CRYPTO_memcmp(tag, want, 32) == 0;
  g_free(tag);
  if (!ok)
    return invalid(error);
  /* Only now, with the MAC verified, is the payload ours to read. */
  size_t plen;
  uint8_t *payload = b64url_decode(token + 4, (size_t)(dot - token - 4), &plen);
  char *text = payload ? g_strndup((const char *)payload, plen) : NULL;
  g_free(payload);
  char **f = text ? g_strsplit(text, ":", -1) : NULL;
  ok = f && g_strv_length(f) == 5 && parse_id(f[0], &c->invitation_id) &&
       parse_id(f[1], &c->meeting_id) && parse_id(f[2], &c->point_id) &&
       parse_id(f[4], &c->expires_at) &&
       (!strcmp(f[3], "host") || !strcmp(f[3], "participant") || !strcmp(f[3], "observer"));
  if (ok)
    g_strlcpy(c->role, f[3], sizeof c->role);
  g_strfreev(f);
  g_free(text);
  if (!ok)
    return invalid(error);
  if (now >= c->expires_at) {
    g_set_error(error, DC_TOKEN_ERROR, DC_TOKEN_ERROR_EXPIRED, "the invitation link has expired");
    return false;
  }
  return true;
}
