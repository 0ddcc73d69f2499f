/* bridge/options: the daemon's flags and config file, each mistake refused with a message
 * that names the setting; a config file's values fill only what the flags left out. */
#include <glib.h>
#include <string.h>

#include "bridge/options.h"

static bool read_and_check(dc_options *o, const char *text, GError **err) {
  return dc_options_read_config(o, text, strlen(text), "test.conf", err) && dc_options_check(o, err);
}

static void test_full_config(void) {
  const char *text = "# a district's bridge\n[bridge]\nlisten = 0.0.0.0\nport = 9443\nmedia-ports = 40000-40999\n"
                     "ice-address = 10.0.0.5;127.0.0.1\nstun = stun.example.org\nturn = tu:p:w@turn.example.org:3478\n"
                     "time-zone = Asia/Ho_Chi_Minh\nmetrics-listen = 10.0.0.5:9464\nworkers = 4\ntalkers = 3\n"
                     "no-red = true\nlog-level = warning\n"
                     "ice-server = stun:stun.example.org;turn:turn.example.org:3478?transport=tcp;turns:turn.example.org:443\n"
                     "turn-secret = north-wind\nturn-ttl = 3600\nno-io-uring = true\nno-silence-filter = true\n";
  dc_options o = {.port = 8443}; /* given as a flag: it wins */
  GError *err = NULL;
  g_assert_true(read_and_check(&o, text, &err));
  g_assert_no_error(err);
  g_assert_cmpint(o.port, ==, 8443);
  g_assert_cmpint(o.workers, ==, 4);
  g_assert_cmpint(o.talkers, ==, 3);
  g_assert_true(o.no_red);
  g_assert_cmpuint(o.media_port_min, ==, 40000);
  g_assert_cmpuint(o.media_port_max, ==, 40999);
  g_assert_cmpstr(o.ice_addresses[1], ==, "127.0.0.1");
  g_assert_cmpstr(o.stun_host, ==, "stun.example.org");
  g_assert_cmpuint(o.stun_port, ==, 3478);
  g_assert_cmpstr(o.turn_user, ==, "tu");
  g_assert_cmpstr(o.turn_password, ==, "p:w"); /* a password may hold ':' */
  g_assert_cmpstr(o.turn_host, ==, "turn.example.org");
  g_assert_cmpuint(o.turn_port, ==, 3478);
  g_assert_cmpint(o.log_threshold, ==, G_LOG_LEVEL_WARNING);
  g_assert_cmpuint(g_strv_length(o.ice_servers), ==, 3);
  g_assert_cmpstr(o.turn_secret, ==, "north-wind");
  g_assert_cmpint(o.turn_ttl, ==, 3600);
  g_assert_true(o.no_io_uring);
  g_assert_true(o.no_silence_filter);
  g_assert_false(o.no_ice_tcp); /* not in the file: the default */
  dc_options_clear(&o);
}

/* Each bad file or value: refused, and the message names what is wrong. */
static void test_refusals(void) {
  const struct {
    const char *text, *says;
  } cases[] = {
      {"[bridge]\nprot = 8443\n", "unknown key \"prot\""},
      {"[server]\nport = 8443\n", "unknown section [server]"},
      {"port = 8443\n", "test.conf"}, /* no section: not a key file GLib reads */
      {"[bridge]\nport = eighty\n", "\"port\" must be a whole number"},
      {"[bridge]\nno-red = maybe\n", "\"no-red\" must be true or false"},
      {"[bridge]\nno-red = true\nred-always = true\n", "--no-red and --red-always contradict each other"},
      {"[bridge]\nport = 70000\n", "--port must be 1-65535"},
      {"[bridge]\ntalkers = 9\n", "--talkers must be 1-8"},
      {"[bridge]\nbig-room = 1\n", "--big-room must be 2-100000"},
      {"[bridge]\nworkers = -2\n", "--workers"},
      {"[bridge]\nlog-level = loud\n", "--log-level must be error, warning, info or debug"},
      {"[bridge]\nmedia-ports = 40000\n", "--media-ports wants MIN-MAX"},
      {"[bridge]\nmedia-ports = 40000-x\n", "--media-ports wants MIN-MAX"},
      {"[bridge]\nmedia-ports = 500-600\n", "within 1024-65535"},
      {"[bridge]\nmedia-ports = 50000-40000\n", "within 1024-65535"},
      {"[bridge]\nmedia-ports = 40000-99999\n", "--media-ports wants MIN-MAX"},
      {"[bridge]\nstun = :3478\n", "--stun wants HOST"},
      {"[bridge]\nstun = stun.example.org:0\n", "--stun wants HOST"},
      {"[bridge]\nturn = turn.example.org:3478\n", "--turn wants USER:PASSWORD@HOST:PORT"},
      {"[bridge]\nturn = u:p@turn.example.org\n", "--turn wants USER:PASSWORD@HOST:PORT"},
      {"[bridge]\nturn = :p@h:3478\n", "--turn wants USER:PASSWORD@HOST:PORT"},
      {"[bridge]\nlisten = bridge.local\n", "--listen must be an IP address"},
      {"[bridge]\npublic-address = 1.2.3\n", "--public-address must be an IP address"},
      {"[bridge]\nice-address = 10.0.0.5;eth0\n", "--ice-address must be an IP address"},
      {"[bridge]\nmetrics-listen = 9464\n", "--metrics-listen wants ADDR:PORT"},
      {"[bridge]\ntime-zone = Asia/Hanoi_Nowhere\n", "--time-zone must be an IANA name"},
      {"[bridge]\ntls-cert = /etc/ssl/x.pem\n", "--tls-cert and --tls-key go together"},
      {"[bridge]\nice-server = turn.example.org:3478\n", "--ice-server: \"turn.example.org:3478\" is not a STUN or TURN URL"},
      {"[bridge]\nice-server = turn:t.example.org?transport=sctp\n", "?transport must be udp or tcp"},
      {"[bridge]\nice-server = turn:t.example.org\n", "needs --turn-secret"},
      {"[bridge]\nice-server = stun:s.example.org\nturn-secret = x\n", "no --ice-server is a turn: or turns: URL"},
      {"[bridge]\nice-server = turns:t.example.org\nturn-secret = x\nturn-ttl = 60\n", "--turn-ttl must be 600-604800"},
      {"[bridge]\nice-server = stun:a;stun:a;stun:a;stun:a;stun:a;stun:a;stun:a;stun:a;stun:a\n", "at most 8"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    dc_options o = {0};
    GError *err = NULL;
    bool ok = read_and_check(&o, cases[i].text, &err);
    if (ok || !err || !strstr(err->message, cases[i].says))
      g_error("%s: expected an error saying %s, got %s", cases[i].text, cases[i].says, err ? err->message : "none");
    g_test_message("%s", err->message);
    g_error_free(err);
    dc_options_clear(&o);
  }
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/options/full-config", test_full_config);
  g_test_add_func("/options/refusals", test_refusals);
  return g_test_run();
}
