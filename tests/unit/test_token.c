/* Unit tests for signaling/token: round trip, tampering, expiry, foreign secrets. */
#include <glib.h>
#include <string.h>

#include "signaling/token.h"

static const uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_roundtrip(void) {
  dc_token_claims in = {.invitation_id = 7, .meeting_id = 3, .point_id = 12, .role = "host",
                        .expires_at = 2000000000};
  char *t = dc_token_sign(secret, &in);
  g_assert_true(g_str_has_prefix(t, "dc1."));
  g_assert_cmpuint(strlen(t), <=, DC_TOKEN_MAX_LEN);
  for (const char *p = t; *p; p++) /* safe in a URL query as is */
    g_assert_true(g_ascii_isalnum(*p) || *p == '-' || *p == '_' || *p == '.');
  dc_token_claims out;
  GError *err = NULL;
  g_assert_true(dc_token_verify(secret, t, 1700000000, &out, &err));
  g_assert_no_error(err);
  g_assert_cmpint(out.invitation_id, ==, 7);
  g_assert_cmpint(out.meeting_id, ==, 3);
  g_assert_cmpint(out.point_id, ==, 12);
  g_assert_cmpstr(out.role, ==, "host");
  g_assert_cmpint(out.expires_at, ==, 2000000000);
  g_free(t);
}

static void expect(const char *token, const uint8_t *key, int64_t now, int code) {
  dc_token_claims out;
  GError *err = NULL;
  g_assert_false(dc_token_verify(key, token, now, &out, &err));
  g_assert_error(err, DC_TOKEN_ERROR, code);
  g_error_free(err);
}

static void test_tampering(void) {
  dc_token_claims in = {.invitation_id = 7, .meeting_id = 3, .point_id = 12,
                        .role = "participant", .expires_at = 2000000000};
  char *t = dc_token_sign(secret, &in);
  /* every single-character change anywhere is caught */
  for (size_t i = 0; t[i]; i++) {
    char *bad = g_strdup(t);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    if (strcmp(bad, t))
      expect(bad, secret, 0, DC_TOKEN_ERROR_INVALID);
    g_free(bad);
  }
  /* a token made for host by someone without the secret */
  uint8_t other[32] = {0};
  dc_token_claims host = in;
  g_strlcpy(host.role, "host", sizeof host.role);
  char *forged = dc_token_sign(other, &host);
  expect(forged, secret, 0, DC_TOKEN_ERROR_INVALID);
  g_free(forged);
  /* the last character's unused bits: a second spelling of the same MAC is refused */
  char *respelled = g_strdup(t);
  char *last = respelled + strlen(respelled) - 1;
  const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  *last = alphabet[(strchr(alphabet, *last) - alphabet) ^ 1];
  expect(respelled, secret, 0, DC_TOKEN_ERROR_INVALID);
  g_free(respelled);
  expect(NULL, secret, 0, DC_TOKEN_ERROR_INVALID);
  expect("", secret, 0, DC_TOKEN_ERROR_INVALID);
  expect("dc1..", secret, 0, DC_TOKEN_ERROR_INVALID);
  expect("dc1.a.b.c", secret, 0, DC_TOKEN_ERROR_INVALID);
  expect("dc2.YQ.YQ", secret, 0, DC_TOKEN_ERROR_INVALID);
  char *longer = g_strnfill(DC_TOKEN_MAX_LEN + 10, 'a');
  expect(longer, secret, 0, DC_TOKEN_ERROR_INVALID);
  g_free(longer);
  g_free(t);
}

static void test_expiry(void) {
  dc_token_claims in = {.invitation_id = 1, .meeting_id = 1, .point_id = 1, .role = "observer",
                        .expires_at = 1000};
  char *t = dc_token_sign(secret, &in);
  dc_token_claims out;
  g_assert_true(dc_token_verify(secret, t, 999, &out, NULL));
  expect(t, secret, 1000, DC_TOKEN_ERROR_EXPIRED);
  g_free(t);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/token/roundtrip", test_roundtrip);
  g_test_add_func("/token/tampering", test_tampering);
  g_test_add_func("/token/expiry", test_expiry);
  return g_test_run();
}
