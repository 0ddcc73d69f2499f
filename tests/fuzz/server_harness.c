/* server_harness.c — see server_harness.h. */
#include "server_harness.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "bridge/room.h"
#include "signaling/server.h"
#include "signaling/store.h"
#include "signaling/token.h"

static GLogWriterOutput quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user) {
  (void)user;
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
    for (gsize i = 0; i < n; i++)
      if (!strcmp(fields[i].key, "MESSAGE"))
        fprintf(stderr, "critical: %s\n", (const char *)fields[i].value);
    abort();
  }
  return G_LOG_WRITER_HANDLED;
}

static gboolean set_flag(gpointer data) {
  *(bool *)data = true;
  return G_SOURCE_REMOVE;
}

bool fuzz_server_run_until(const bool *done, int ms) {
  bool timeout = false;
  GSource *t = g_timeout_source_new((guint)ms);
  g_source_set_callback(t, set_flag, &timeout, NULL);
  g_source_attach(t, NULL);
  while (!*done && !timeout)
    g_main_context_iteration(NULL, TRUE);
  g_source_destroy(t);
  g_source_unref(t);
  return *done;
}

void fuzz_server_settle(int max_rounds) {
  for (int i = 0; i < max_rounds && g_main_context_iteration(NULL, FALSE); i++)
    ;
}

static void die(const char *what, GError *err) {
  fprintf(stderr, "fuzz harness: %s: %s\n", what, err ? err->message : "failed");
  abort();
}

bool fuzz_server_meeting_live(fuzz_server *fs) {
  dc_meeting *m = dc_store_get_meeting(fs->store, fs->meeting, NULL);
  bool live = m && dc_meeting_joinable(m, g_get_real_time() / G_USEC_PER_SEC);
  dc_meeting_free(m);
  return live;
}

void fuzz_server_new_meeting(fuzz_server *fs) {
  GError *err = NULL;
  int64_t now = g_get_real_time() / G_USEC_PER_SEC, until = now + 30 * 86400;
  /* the last input's meeting ends: the server's tick stops a recording it started */
  if (fs->meeting && !dc_store_end_meeting(fs->store, fs->meeting, now, &err))
    g_clear_error(&err); /* cancelled by that input: over too */
  fs->meeting = dc_store_create_meeting(fs->store, "Giao ban", now - 60, until, fs->points[0], &err);
  if (!fs->meeting)
    die("meeting", err);
  const char *roles[4] = {"host", "participant", "participant", "observer"};
  int64_t points[4] = {fs->points[0], fs->points[1], fs->points[2], fs->points[2]};
  for (int i = 0; i < 4; i++) {
    int64_t inv = dc_store_create_invitation(fs->store, fs->meeting, points[i], roles[i], until, &err);
    if (!inv)
      die("invitation", err);
    dc_token_claims c = {.invitation_id = inv, .meeting_id = fs->meeting, .point_id = points[i], .expires_at = until};
    g_strlcpy(c.role, roles[i], sizeof c.role);
    g_free(fs->tokens[i]);
    fs->tokens[i] = dc_token_sign(dc_store_secret(fs->store), &c);
  }
}

static fuzz_server fs;
static char *scratch; /* the store's directory, gone when the process ends */

static void remove_scratch(void) {
  GDir *d = scratch ? g_dir_open(scratch, 0, NULL) : NULL;
  for (const char *name; d && (name = g_dir_read_name(d));) {
    char *path = g_build_filename(scratch, name, NULL);
    g_remove(path);
    g_free(path);
  }
  if (d)
    g_dir_close(d);
  if (scratch)
    g_rmdir(scratch);
}

SoupSession *fuzz_server_client(void) {
  static unsigned n;
  n++;
  char ip[16];
  g_snprintf(ip, sizeof ip, "127.%u.%u.%u", 1 + (n >> 16) % 250, (n >> 8) & 0xff, 1 + (n & 0xff) % 254);
  GInetAddress *addr = g_inet_address_new_from_string(ip);
  GSocketAddress *local = g_inet_socket_address_new(addr, 0);
  SoupSession *session = soup_session_new_with_options("timeout", 5, "local-address", local, NULL);
  g_object_unref(local);
  g_object_unref(addr);
  return session;
}

fuzz_server *fuzz_server_get(void) {
  if (fs.ready)
    return &fs;
  g_log_set_writer_func(quiet_writer, NULL, NULL);
  GError *err = NULL;
  /* on tmpfs when there is one: each write's fsync is the input's cost, not the server's */
  char *tmpl = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? g_strdup("/dev/shm/diemcau-fuzz-XXXXXX") : NULL;
  char *dir = tmpl ? g_mkdtemp(tmpl) : NULL;
  if (!dir)
    dir = g_dir_make_tmp("diemcau-fuzz-XXXXXX", &err);
  if (!dir)
    die("scratch directory", err);
  scratch = g_strdup(dir);
  atexit(remove_scratch); /* libFuzzer ends with exit(): on tmpfs a run's store is memory */
  char *db = g_build_filename(dir, "diemcau.db", NULL);
  dc_store *store = dc_store_open(db, &err);
  if (!store)
    die("store", err);
  fs.store = store;
  const char *names[3] = {"Hội trường huyện", "Xã A", "Xã B"}, *kinds[3] = {"hall", "commune", "commune"},
             *links[3] = {"hall", "highland", "standard"};
  for (int i = 0; i < 3; i++)
    if (!(fs.points[i] = dc_store_add_point(store, names[i], kinds[i], links[i], &err)))
      die("points", err);
  fuzz_server_new_meeting(&fs);
  fs.admin_key = dc_store_new_api_key(store, "fuzz", "admin", NULL, &err);
  if (!fs.admin_key)
    die("API key", err);
  const char *loopback[] = {"127.0.0.1", NULL};
  dc_bridge_config bcfg = {.workers = 1, .connect_timeout_s = 2};
  bcfg.transport.local_addresses = (char **)loopback;
  dc_bridge *bridge = dc_bridge_new(&bcfg, &err);
  if (!bridge)
    die("bridge", err);
  /* A recording is refused (its directory cannot be made) before GStreamer is loaded: a
   * pipeline per input would be most of the run, GStreamer's quarks outgrow GLib's table,
   * whose old block reads as a leak, and the recorder has tests of its own. The refusal's
   * path is fuzzed instead. */
  char *recordings = g_strdup("/dev/null/recordings");
  dc_server_config scfg = {.listen_address = "127.0.0.1", .port = 0, .web_dir = ".", .recordings_dir = recordings};
  dc_server *server = dc_server_new(&scfg, store, bridge, &err);
  if (!server)
    die("server", err);
  fs.base = g_strdup_printf("http://127.0.0.1:%u", dc_server_port(server));
  fs.ws_url = g_strdup_printf("ws://127.0.0.1:%u/ws", dc_server_port(server));
  fs.ready = true;
  /* the server, bridge and store live as long as the process: libFuzzer never returns */
  g_free(recordings);
  g_free(db);
  g_free(dir);
  return &fs;
}
