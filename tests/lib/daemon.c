/* daemon.c — see daemon.h. */
#include "tests/lib/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "signaling/store.h"
#include "signaling/token.h"

const char *dc_test_bridge_address(void) {
  const char *a = g_getenv("DC_TEST_BRIDGE_ADDRESS");
  return a && *a ? a : "127.0.0.1";
}

/* The daemon answers /metrics on its main port to loopback only: off loopback it is asked to
 * answer on the next port too (--metrics-listen). */
static bool bridge_on_loopback(void) {
  GInetAddress *a = g_inet_address_new_from_string(dc_test_bridge_address());
  bool lo = !a || g_inet_address_get_is_loopback(a);
  if (a)
    g_object_unref(a);
  return lo;
}

char *dc_test_metrics_url(int port) {
  return g_strdup_printf("http://%s:%d/metrics", dc_test_bridge_address(), bridge_on_loopback() ? port : port + 1);
}

SoupSession *dc_test_point_session(int k) {
  const char *net = g_getenv("DC_TEST_POINT_NET");
  char ip[32];
  g_snprintf(ip, sizeof ip, "%s.%d.%d", net && *net ? net : "127.0", 1 + k / 250, 1 + k % 250);
  GInetAddress *addr = g_inet_address_new_from_string(ip);
  GSocketAddress *local = g_inet_socket_address_new(addr, 0);
  SoupSession *s = soup_session_new_with_options("local-address", local, "max-conns", 1000, "max-conns-per-host", 1000, NULL);
  g_object_unref(local);
  g_object_unref(addr);
  return s;
}

void dc_test_die_with_parent(gpointer unused) {
  (void)unused;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean keep_ticking(gpointer unused) {
  (void)unused;
  return G_SOURCE_CONTINUE;
}

/* Runs the default context until end or pred() (NULL: none): whatever is ready at once, one
 * after another, and at least every millisecond, so that a condition another thread changes
 * is seen. (A sleep of half a millisecond after each event, as before, held 200 clients'
 * signaling to a few thousand events a second: their joins took 32 s.) */
static void run_until(gint64 end, bool (*pred)(void)) {
  GSource *tick = g_timeout_source_new(1);
  g_source_set_callback(tick, keep_ticking, NULL, NULL);
  g_source_attach(tick, NULL);
  while ((!pred || !pred()) && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, TRUE);
  g_source_destroy(tick);
  g_source_unref(tick);
}

bool dc_test_spin_until_named(bool (*pred)(void), int ms, const char *what) {
  gint64 start = g_get_monotonic_time(), end = start + (gint64)ms * 1000;
  run_until(end, pred);
  bool ok = pred();
  g_test_message("%s: %s after %.2f s (ceiling %.1f s)", what, ok ? "held" : "did NOT hold",
                 (g_get_monotonic_time() - start) / 1e6, ms / 1000.0);
  return ok;
}

void dc_test_spin_for(int ms) { run_until(g_get_monotonic_time() + (gint64)ms * 1000, NULL); }

void dc_test_assert_stops_cleanly(GSubprocess *daemon) {
  g_subprocess_send_signal(daemon, SIGTERM);
  GError *err = NULL;
  g_assert_true(g_subprocess_wait(daemon, NULL, &err));
  g_assert_no_error(err);
  g_assert_true(g_subprocess_get_if_exited(daemon));
  g_assert_cmpint(g_subprocess_get_exit_status(daemon), ==, 0);
}

static long status_kib(GPid pid, const char *field) {
  char *path = g_strdup_printf("/proc/%d/status", pid), *text = NULL;
  long kib = -1;
  if (g_file_get_contents(path, &text, NULL, NULL)) {
    const char *line = strstr(text, field);
    if (line)
      kib = strtol(line + strlen(field), NULL, 10);
  }
  g_free(path);
  g_free(text);
  return kib;
}

long dc_test_rss_kib(GPid pid) { return status_kib(pid, "VmRSS:"); }
long dc_test_rss_anon_kib(GPid pid) { return status_kib(pid, "RssAnon:"); }

int dc_test_open_fds(GPid pid) {
  char *path = g_strdup_printf("/proc/%d/fd", pid);
  GDir *d = g_dir_open(path, 0, NULL);
  g_free(path);
  if (!d)
    return -1;
  int n = 0;
  while (g_dir_read_name(d)) /* without . and .. */
    n++;
  g_dir_close(d);
  return n;
}

int64_t dc_test_make_meeting(const char *dir, int n, char ***tokens) {
  int64_t meeting = 0;
  dc_test_make_meetings(dir, 1, n, tokens, &meeting);
  return meeting;
}

void dc_test_make_meetings(const char *dir, int k, int n, char ***tokens, int64_t *meetings) {
  GError *err = NULL;
  char *db = g_build_filename(dir, "diemcau.db", NULL);
  dc_store *store = dc_store_open(db, &err);
  g_assert_no_error(err);
  int64_t point = dc_store_add_point(store, "Xã Tà Xùa", "commune", "standard", &err);
  g_assert_no_error(err);
  for (int m = 0; m < k; m++) {
    meetings[m] = dc_store_create_meeting(store, "Giao ban", 1, 4000000000, point, &err);
    g_assert_no_error(err);
  }
  *tokens = g_new0(char *, (gsize)n + 1);
  for (int i = 0; i < n; i++) {
    int64_t meeting = meetings[i % k];
    int64_t inv = dc_store_create_invitation(store, meeting, point, "participant", 4000000000, &err);
    g_assert_no_error(err);
    dc_token_claims claims = {.invitation_id = inv, .meeting_id = meeting, .point_id = point,
                              .role = "participant", .expires_at = 4000000000};
    (*tokens)[i] = dc_token_sign(dc_store_secret(store), &claims);
  }
  g_free(dc_store_new_api_key(store, "tests", "admin", NULL, &err));
  g_assert_no_error(err);
  dc_store_close(store);
  g_free(db);
}

GPid dc_test_pid(GSubprocess *p) {
  const char *id = g_subprocess_get_identifier(p);
  return id ? (GPid)g_ascii_strtoll(id, NULL, 10) : 0;
}

static bool port_takes_connections(int port) {
  GSocketClient *client = g_socket_client_new();
  g_socket_client_set_timeout(client, 1);
  GSocketConnection *conn = g_socket_client_connect_to_host(client, dc_test_bridge_address(), (guint16)port, NULL, NULL);
  bool ok = conn != NULL;
  if (conn)
    g_object_unref(conn);
  g_object_unref(client);
  return ok;
}

GSubprocess *dc_test_start_bridge(const char *exe, const char *dir, int port, const char *log_level) {
  return dc_test_start_bridge_with(exe, dir, port, log_level, NULL);
}

GSubprocess *dc_test_start_bridge_with(const char *exe, const char *dir, int port, const char *log_level,
                                       const char *const *extra) {
  char *port_text = g_strdup_printf("%d", port);
  GSubprocessLauncher *launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_child_setup(launcher, dc_test_die_with_parent, NULL, NULL);
  GError *err = NULL;
  GPtrArray *args = g_ptr_array_new();
  const char *here = dc_test_bridge_address();
  const char *fixed[] = {exe, "--data-dir", dir, "--plain-http", "--listen", here, "--port", port_text,
                         "--ice-address", here, "--log-level", log_level};
  for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++)
    g_ptr_array_add(args, (gpointer)fixed[i]);
  char *metrics_listen = bridge_on_loopback() ? NULL : g_strdup_printf("--metrics-listen=%s:%d", here, port + 1);
  if (metrics_listen)
    g_ptr_array_add(args, metrics_listen);
  for (const char *const *e = extra; e && *e; e++)
    g_ptr_array_add(args, (gpointer)*e);
  g_ptr_array_add(args, NULL);
  GSubprocess *bridge = g_subprocess_launcher_spawnv(launcher, (const char *const *)args->pdata, &err);
  g_ptr_array_free(args, TRUE);
  g_object_unref(launcher);
  g_free(port_text);
  g_free(metrics_listen);
  if (!bridge) {
    fprintf(stderr, "the bridge %s did not start: %s\n", exe, err->message);
    g_error_free(err);
    return NULL;
  }
  /* Ready when its port takes a connection: a fixed wait was too short under a profiler or
   * a sanitizer on a busy machine, and the clients then met a refused connection. */
  bool listening = false;
  for (int i = 0; i < 300 && !listening && g_subprocess_get_identifier(bridge); i++) {
    dc_test_spin_for(i == 0 ? 100 : 50);
    listening = port_takes_connections(port);
  }
  if (!listening) {
    if (g_subprocess_get_identifier(bridge)) {
      fprintf(stderr, "the bridge did not listen on port %d within 15 s\n", port);
      g_subprocess_force_exit(bridge);
      g_subprocess_wait(bridge, NULL, NULL);
    } else {
      fprintf(stderr, "the bridge exited at once (is port %d in use?)\n", port);
    }
    g_object_unref(bridge);
    return NULL;
  }
  return bridge;
}

double dc_test_cpu_s(GPid pid) {
  char *path = g_strdup_printf("/proc/%d/stat", pid), *text = NULL;
  double s = -1;
  if (g_file_get_contents(path, &text, NULL, NULL)) {
    const char *after = strrchr(text, ')'); /* the name may hold spaces */
    unsigned long utime, stime;
    /* fields 3..15: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (after && sscanf(after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
      s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
  }
  g_free(path);
  g_free(text);
  return s;
}

static void on_metrics(GObject *src, GAsyncResult *res, gpointer data) {
  *(GBytes **)data = soup_session_send_and_read_finish(SOUP_SESSION(src), res, NULL);
}

char *dc_test_fetch_metrics(SoupSession *session, int port) {
  char *url = dc_test_metrics_url(port);
  SoupMessage *msg = soup_message_new("GET", url);
  GBytes *body = NULL;
  soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, on_metrics, &body);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (!body && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, TRUE);
  g_assert_cmpuint(soup_message_get_status(msg), ==, 200);
  g_assert_nonnull(body);
  char *text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
  g_bytes_unref(body);
  g_object_unref(msg);
  g_free(url);
  return text;
}

guint dc_test_api(SoupSession *session, int port, const char *key, const char *path, const char *body, char **reply) {
  char *url = g_strdup_printf("http://%s:%d%s", dc_test_bridge_address(), port, path), *auth = g_strconcat("Bearer ", key, NULL);
  SoupMessage *msg = soup_message_new(body ? "POST" : "GET", url);
  soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", auth);
  if (body) {
    GBytes *b = g_bytes_new(body, strlen(body));
    soup_message_set_request_body_from_bytes(msg, "application/json", b);
    g_bytes_unref(b);
  }
  GBytes *out = soup_session_send_and_read(session, msg, NULL, NULL);
  guint status = soup_message_get_status(msg);
  if (reply)
    *reply = out ? g_strndup(g_bytes_get_data(out, NULL), g_bytes_get_size(out)) : g_strdup("");
  if (out)
    g_bytes_unref(out);
  g_object_unref(msg);
  g_free(auth);
  g_free(url);
  return status;
}

double dc_test_metric(const char *text, const char *name) {
  char *needle = g_strconcat("\n", name, " ", NULL);
  const char *at = strstr(text, needle);
  double v = at ? g_ascii_strtod(at + strlen(needle), NULL) : -1;
  g_free(needle);
  return v;
}
