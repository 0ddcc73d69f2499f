/* Unit tests for signaling/ice_servers: the STUN/TURN URLs the settings accept and refuse,
 * TURN credentials as coturn's use-auth-secret checks them, and the URIs webrtcbin gets. */
#include <glib.h>
#include <string.h>

#include "signaling/ice_servers.h"

static void test_urls(void) {
  const struct {
    const char *text;
    dc_ice_scheme scheme;
    const char *host;
    unsigned port;
    bool tcp;
  } good[] = {
      {"stun:stun.example.vn", DC_ICE_STUN, "stun.example.vn", 3478, false},
      {"stun:10.0.0.1:19302", DC_ICE_STUN, "10.0.0.1", 19302, false},
      {"turn:turn.example.vn", DC_ICE_TURN, "turn.example.vn", 3478, false},
      {"TURN:turn.example.vn:3478?transport=udp", DC_ICE_TURN, "turn.example.vn", 3478, false},
      {"turn:turn.example.vn:3478?transport=tcp", DC_ICE_TURN, "turn.example.vn", 3478, true},
      {"turns:turn.example.vn", DC_ICE_TURNS, "turn.example.vn", 5349, true},
      {"turns:turn.example.vn:443?transport=tcp", DC_ICE_TURNS, "turn.example.vn", 443, true},
      {"turn:[2001:db8::1]:3478", DC_ICE_TURN, "2001:db8::1", 3478, false},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
    dc_ice_url u;
    char *why = NULL;
    g_assert_true(dc_ice_url_parse(good[i].text, &u, &why));
    g_assert_null(why);
    g_assert_cmpint(u.scheme, ==, good[i].scheme);
    g_assert_cmpstr(u.host, ==, good[i].host);
    g_assert_cmpuint(u.port, ==, good[i].port);
    g_assert_cmpint(u.tcp, ==, good[i].tcp);
    dc_ice_url_clear(&u);
  }
  const char *bad[] = {"", "http://x", "stun:", "turn::3478", "turn:host:0", "turn:host:65536", "turn:host:12x",
                       "stun:host?transport=tcp", "turn:host?transport=sctp", "turns:host?transport=udp",
                       "turn:[2001:db8::1", "turn:[zz]:3478", "turn:user@host", "turn:host/path", "turn:ho st"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    dc_ice_url u;
    char *why = NULL;
    g_assert_false(dc_ice_url_parse(bad[i], &u, &why));
    g_test_message("%s -> %s", bad[i], why);
    g_assert_nonnull(why);
    g_assert_null(u.host);
    g_free(why);
  }
  char *long_url = g_strnfill(DC_ICE_MAX_URL + 1, 'a');
  memcpy(long_url, "turn:", 5);
  dc_ice_url u;
  char *why = NULL;
  g_assert_false(dc_ice_url_parse(long_url, &u, &why));
  g_free(why);
  g_free(long_url);
}

/* The password is base64(HMAC-SHA1(secret, "EXPIRY:WHO")); the expected value was computed
 * apart (Python's hmac), as coturn computes it. */
static void test_mint(void) {
  const char *urls[] = {"stun:stun.example.vn", "turn:turn.example.vn:3478?transport=udp",
                        "turns:turn.example.vn:443", NULL};
  dc_ice_server out[2];
  size_t n = dc_ice_servers_mint(urls, "north-wind", 3600, "m1p7", 1767222000, out);
  g_assert_cmpuint(n, ==, 2);
  g_assert_cmpstr(out[0].urls[0], ==, "stun:stun.example.vn");
  g_assert_null(out[0].urls[1]);
  g_assert_null(out[0].username);
  g_assert_cmpstr(out[1].urls[0], ==, "turn:turn.example.vn:3478?transport=udp");
  g_assert_cmpstr(out[1].urls[1], ==, "turns:turn.example.vn:443");
  g_assert_cmpstr(out[1].username, ==, "1767225600:m1p7");
  g_assert_cmpstr(out[1].credential, ==, "rhy1xpZ27bub7AUwjUlTiRFiJ0Y=");
  for (size_t i = 0; i < n; i++)
    dc_ice_server_clear(&out[i]);
  /* no secret: no TURN entry at all (the settings refuse that case; never a bare TURN URL) */
  n = dc_ice_servers_mint(urls, NULL, 3600, "m1p7", 1767222000, out);
  g_assert_cmpuint(n, ==, 1);
  g_assert_null(out[0].username);
  dc_ice_server_clear(&out[0]);
  g_assert_cmpuint(dc_ice_servers_mint(NULL, "s", 60, "x", 0, out), ==, 0);
}

static void test_for_gstreamer(void) {
  dc_ice_url u;
  g_assert_true(dc_ice_url_parse("turn:10.0.0.9:3478?transport=tcp", &u, NULL));
  char *uri = dc_ice_url_for_gstreamer(&u, "1767225600:m1p7", "rhy1x/Z27+b=");
  /* webrtcbin splits user from password at the first ':' and unescapes each */
  g_assert_cmpstr(uri, ==, "turn://1767225600%3Am1p7:rhy1x%2FZ27%2Bb%3D@10.0.0.9:3478?transport=tcp");
  g_free(uri);
  dc_ice_url_clear(&u);
  g_assert_true(dc_ice_url_parse("turn:10.0.0.9", &u, NULL));
  uri = dc_ice_url_for_gstreamer(&u, "u", "p");
  g_assert_cmpstr(uri, ==, "turn://u:p@10.0.0.9:3478?transport=udp");
  g_free(uri);
  dc_ice_url_clear(&u);
  g_assert_true(dc_ice_url_parse("turns:[2001:db8::1]:443", &u, NULL));
  uri = dc_ice_url_for_gstreamer(&u, "u", "p");
  g_assert_cmpstr(uri, ==, "turns://u:p@[2001:db8::1]:443");
  g_free(uri);
  dc_ice_url_clear(&u);
  g_assert_true(dc_ice_url_parse("stun:10.0.0.9", &u, NULL));
  uri = dc_ice_url_for_gstreamer(&u, NULL, NULL);
  g_assert_cmpstr(uri, ==, "stun://10.0.0.9:3478");
  g_free(uri);
  dc_ice_url_clear(&u);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/ice-servers/urls", test_urls);
  g_test_add_func("/ice-servers/mint", test_mint);
  g_test_add_func("/ice-servers/for-gstreamer", test_for_gstreamer);
  return g_test_run();
}
