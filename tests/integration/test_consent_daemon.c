/* Consent freshness (RFC 7675, issue 16) in the real daemon, with two native clients on our
 * own transport, each on a worker thread of its own. Both join and connect; then X's worker
 * is frozen: X's WebSocket stays open (signaling runs on the main thread), but X answers
 * nothing on its media path any more, as a machine whose link went down beneath a proxy
 * would. The bridge must notice through its consent checks alone (30 s without an answer),
 * free X, tell X why and close its WebSocket, and show X to the others as reconnecting.
 * Before that, a shorter silence (20 s, the long end of a link's outage that a point should
 * ride out): X's media comes back by itself within 5 s of its link, nobody is told anything. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "signaling/store.h"
#include "signaling/token.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"

#define PORT 18647
#define CONSENT_S 30      /* RFC 7675 §5.1: consent expires 30 s after the last answer */
#define CEILING_S 50      /* ... plus its checks' spacing and a busy (sanitizer) machine */
#define OUTAGE_S 20       /* a link's outage a point rides out (issue 16: 3-20 s) */
#define BACK_S 5          /* ... back within this of the link returning */

enum { X, Y, N_CLIENTS };

typedef struct {
  char *token;
  dc_workers *workers;
  dc_client *dc;
  gint connected;
  gint rtp_in;             /* its worker: packets that came (the mix) */
  char *error_code;        /* main thread: the last error the bridge sent */
  bool ws_closed_by_bridge; /* main thread */
  bool saw_x_reconnecting; /* Y, main thread: a roster with X reconnecting */
  int roster_size;         /* Y, main thread: participants in the last roster, X's ghost aside */
} client;

static struct {
  SoupSession *session;
  dc_dtls_identity *id;
  GSubprocess *bridge;
  char *dir;
  client c[N_CLIENTS];
  int64_t x_id;
  /* X's frozen worker waits here until the test lets it go */
  GMutex lock;
  GCond cond;
  bool frozen, release;
} T;

static char *offer_for(dc_client *dc, gpointer user) {
  (void)user;
  return dc_client_audio_offer(dc, g_random_int());
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)buf, (void)len, (void)cap;
  g_atomic_int_inc(&((client *)user)->rtp_in);
}

static void on_connected(dc_client *dc, gpointer user) {
  (void)dc;
  g_atomic_int_set(&((client *)user)->connected, 1);
}

static void on_message(dc_client *dc, const char *type, JsonObject *o, gpointer user) {
  (void)dc;
  client *c = user;
  if (!strcmp(type, "error")) {
    g_free(c->error_code);
    c->error_code = g_strdup(json_object_get_string_member_with_default(o, "code", ""));
  } else if (!strcmp(type, "roster") && c == &T.c[Y]) {
    JsonArray *a = json_object_get_array_member(o, "participants");
    c->roster_size = 0;
    for (guint i = 0; i < json_array_get_length(a); i++) {
      JsonObject *p = json_array_get_object_element(a, i);
      bool ghost = json_object_get_boolean_member_with_default(p, "reconnecting", FALSE);
      if (ghost && json_object_get_int_member(p, "participant") == T.x_id)
        c->saw_x_reconnecting = true;
      c->roster_size += !ghost;
    }
  }
}

static gboolean freeze(gpointer unused) {
  (void)unused;
  g_mutex_lock(&T.lock);
  T.frozen = true;
  g_cond_broadcast(&T.cond);
  while (!T.release)
    g_cond_wait(&T.cond, &T.lock);
  g_mutex_unlock(&T.lock);
  return G_SOURCE_REMOVE;
}

static bool both_connected(void) {
  return g_atomic_int_get(&T.c[X].connected) && g_atomic_int_get(&T.c[Y].connected) && T.c[Y].roster_size == 2;
}
static bool x_frozen(void) {
  g_mutex_lock(&T.lock);
  bool f = T.frozen;
  g_mutex_unlock(&T.lock);
  return f;
}
static bool x_put_out(void) { return T.c[X].error_code && !strcmp(T.c[X].error_code, "media-failed"); }
static bool y_sees_x_reconnecting(void) { return T.c[Y].saw_x_reconnecting && T.c[Y].roster_size == 1; }

/* X's worker stops: nothing goes out or is taken in on its media path until release_x(). */
static void freeze_x(void) {
  g_mutex_lock(&T.lock);
  T.frozen = T.release = false;
  g_mutex_unlock(&T.lock);
  GSource *src = g_idle_source_new();
  g_source_set_callback(src, freeze, NULL, NULL);
  g_source_attach(src, dc_worker_context(dc_transport_worker(dc_client_transport(T.c[X].dc))));
  g_source_unref(src);
  g_assert_true(dc_test_spin_until(x_frozen, 5000));
}

static void release_x(void) {
  g_mutex_lock(&T.lock);
  T.release = true;
  g_cond_broadcast(&T.cond);
  g_mutex_unlock(&T.lock);
}

static int x_rtp_mark;
static bool x_media_again(void) { return g_atomic_int_get(&T.c[X].rtp_in) > x_rtp_mark + 10; }

static void test_short_outage_ridden_out(void) {
  g_assert_true(dc_test_spin_until(both_connected, 30000));
  T.x_id = dc_client_participant(T.c[X].dc);
  x_rtp_mark = g_atomic_int_get(&T.c[X].rtp_in);
  g_assert_true(dc_test_spin_until(x_media_again, 5000)); /* the mix comes before */
  freeze_x();
  dc_test_spin_for(OUTAGE_S * 1000);
  x_rtp_mark = g_atomic_int_get(&T.c[X].rtp_in); /* what the socket held counts as before */
  release_x();
  dc_test_spin_for(50);
  x_rtp_mark = g_atomic_int_get(&T.c[X].rtp_in);
  gint64 back = g_get_monotonic_time();
  bool again = dc_test_spin_until(x_media_again, BACK_S * 1000);
  g_test_message("after %d s of silence, X's media again %.1f s after its link came back; X told: %s; "
                 "Y saw X reconnecting: %s", OUTAGE_S, (g_get_monotonic_time() - back) / 1e6,
                 T.c[X].error_code ? T.c[X].error_code : "nothing", T.c[Y].saw_x_reconnecting ? "yes" : "no");
  g_assert_true(again);
  g_assert_null(T.c[X].error_code);
  g_assert_false(T.c[Y].saw_x_reconnecting);
  g_assert_cmpint(T.c[Y].roster_size, ==, 2);
}

static void test_silent_peer_is_freed(void) {
  freeze_x();
  gint64 frozen_at = g_get_monotonic_time();
  /* not before consent could have expired: an answer may have come just before the freeze */
  bool early = dc_test_spin_until(x_put_out, (CONSENT_S - 5) * 1000);
  g_assert_false(early);
  g_assert_true(dc_test_spin_until(x_put_out, (CEILING_S - CONSENT_S + 5) * 1000));
  double after = (g_get_monotonic_time() - frozen_at) / 1e6;
  g_test_message("X was told its media failed %.1f s after it went silent", after);
  g_assert_true(dc_test_spin_until(y_sees_x_reconnecting, 5000));
}

static void test_stops_cleanly(void) {
  release_x();
  dc_test_assert_stops_cleanly(T.bridge);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  const char *exe = g_getenv("DC_BRIDGE");
  if (!exe) {
    g_printerr("set DC_BRIDGE to the diemcau-bridge executable\n");
    return 2;
  }
  g_mutex_init(&T.lock);
  g_cond_init(&T.cond);
  T.dir = g_dir_make_tmp("diemcau-consent-XXXXXX", NULL);
  char *db = g_build_filename(T.dir, "diemcau.db", NULL);
  GError *err = NULL;
  dc_store *store = dc_store_open(db, &err);
  g_assert_no_error(err);
  int64_t meeting = 0;
  for (int i = 0; i < N_CLIENTS; i++) {
    int64_t point = dc_store_add_point(store, i == X ? "Xã X" : "Xã Y", "commune", "standard", &err);
    g_assert_no_error(err);
    if (!meeting)
      meeting = dc_store_create_meeting(store, "Consent", 1, 4000000000, point, &err);
    int64_t inv = dc_store_create_invitation(store, meeting, point, "participant", 4000000000, &err);
    dc_token_claims claims = {.invitation_id = inv, .meeting_id = meeting, .point_id = point,
                              .role = "participant", .expires_at = 4000000000};
    T.c[i].token = dc_token_sign(dc_store_secret(store), &claims);
  }
  g_free(dc_store_new_api_key(store, "test", "admin", NULL, &err));
  dc_store_close(store);
  g_free(db);

  char *port = g_strdup_printf("%d", PORT);
  GSubprocessLauncher *launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_child_setup(launcher, dc_test_die_with_parent, NULL, NULL);
  g_subprocess_launcher_setenv(launcher, "G_DEBUG", "fatal-criticals", TRUE);
  T.bridge = g_subprocess_launcher_spawn(launcher, &err, exe, "--data-dir", T.dir, "--plain-http", "--listen",
                                         "127.0.0.1", "--port", port, "--ice-address", "127.0.0.1", NULL);
  g_object_unref(launcher);
  g_assert_no_error(err);
  g_usleep(500000);
  T.session = soup_session_new();
  T.id = dc_dtls_identity_new("consent-test", &err);
  char *url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  const dc_client_callbacks cb = {.offer = offer_for, .message = on_message, .connected = on_connected,
                                  .rtp = on_rtp};
  for (int i = 0; i < N_CLIENTS; i++) {
    T.c[i].workers = dc_workers_new(1); /* one each: X's alone is frozen */
    dc_client_config cfg = {.session = T.session, .workers = T.c[i].workers, .identity = T.id, .ws_url = url,
                            .meeting = meeting, .token = T.c[i].token, .name = i == X ? "X" : "Y", .slots = 1,
                            .reports = true}; /* as real peers do; X's stop with its worker */
    T.c[i].dc = dc_client_new(&cfg, &cb, &T.c[i]);
  }
  g_test_add_func("/consent/short-outage-ridden-out", test_short_outage_ridden_out);
  g_test_add_func("/consent/silent-peer-is-freed", test_silent_peer_is_freed);
  g_test_add_func("/consent/stops-cleanly", test_stops_cleanly);
  int rc = g_test_run();
  for (int i = 0; i < N_CLIENTS; i++) {
    dc_client_close(T.c[i].dc);
    dc_workers_free(T.c[i].workers);
    dc_client_free(T.c[i].dc);
    g_free(T.c[i].token);
    g_free(T.c[i].error_code);
  }
  dc_dtls_identity_unref(T.id);
  g_object_unref(T.session);
  g_object_unref(T.bridge);
  g_free(url);
  g_free(port);
  char *rm[] = {"rm", "-rf", T.dir, NULL};
  g_spawn_sync(NULL, rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(T.dir);
  return rc;
}
