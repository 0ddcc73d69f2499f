/* recording.c — a meeting's recordings as the host and the operators see them (issue 14):
 * start and stop (the host's record message, the REST API, a meeting marked to be recorded
 * when its first point joins), where the files go, and which files a meeting has.
 *
 * The bridge writes them (bridge/recorder.h): DATA_DIR/recordings/MEETING/STEM-mix.opus and
 * STEM-main.webm, STEM the start on the operators' wall clock (YYYYMMDD-HHMMSS, with -2, -3…
 * for another started within the same second), so a meeting's recordings sort by time and a
 * name says when it was made. Everyone in the meeting is told that it is being recorded
 * (the roster's "recording"); when a recording stops by itself (a full disk) the roster says
 * why until the next one starts, and the meeting goes on. Left out: a quota per meeting,
 * deleting recordings through the API.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "signaling/server_private.h"

typedef struct {
  char *error;      /* why the last one stopped by itself, NULL if it did not */
  bool auto_done;   /* a meeting marked to be recorded started its recording once this run */
} meeting_recording;

static void free_state(gpointer p) {
  meeting_recording *m = p;
  g_free(m->error);
  g_free(m);
}

/* A line in the meeting's log (its minutes): who is the point, key or rule that acted; at_ms
 * 0 for now. */
static void log_event(dc_server *srv, int64_t meeting, int64_t at_ms, const char *kind, const char *who,
                      const char *detail) {
  GError *err = NULL;
  if (!dc_store_event(srv->store, meeting, at_ms ? at_ms : g_get_real_time() / 1000, kind, who, "", detail ? detail : "",
                      &err)) {
    g_warning("meeting %" G_GINT64_FORMAT ": its log: %s", meeting, err->message);
    g_error_free(err);
  }
}

static meeting_recording *state_of(dc_server *srv, int64_t meeting) {
  if (!srv->recordings)
    srv->recordings = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, free_state);
  meeting_recording *m = g_hash_table_lookup(srv->recordings, &meeting);
  if (!m) {
    m = g_new0(meeting_recording, 1);
    g_hash_table_insert(srv->recordings, g_memdup2(&meeting, sizeof meeting), m);
  }
  return m;
}

char *dc_recording_dir(dc_server *srv, int64_t meeting) {
  char id[24];
  g_snprintf(id, sizeof id, "%" G_GINT64_FORMAT, meeting);
  return g_build_filename(srv->recordings_dir, id, NULL);
}

bool dc_recording_set(dc_server *srv, int64_t meeting, bool on, const char *by, GError **error) {
  /* a room is made only to record (an open meeting): a mixer's buffers are not small */
  dc_room *room = on ? dc_bridge_room(srv->bridge, meeting) : dc_bridge_find_room(srv->bridge, meeting);
  if (!on) {
    if (!room || !dc_room_record_stop(room)) {
      g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "meeting %" G_GINT64_FORMAT " is not being recorded", meeting);
      return false;
    }
    log_event(srv, meeting, 0, "recording-stopped", by, NULL);
    dc_server_broadcast_roster(srv, meeting);
    return true;
  }
  if (dc_room_recording(room)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST, "meeting %" G_GINT64_FORMAT " is being recorded already", meeting);
    return false;
  }
  char *dir = dc_recording_dir(srv, meeting);
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot make %s: %s", dir, g_strerror(errno));
    g_free(dir);
    return false;
  }
  char *stem = dc_time_format(srv->tz, g_get_real_time() / G_USEC_PER_SEC, "%Y%m%d-%H%M%S");
  char *base = NULL, *audio = NULL, *video = NULL;
  for (int n = 1; !audio || g_file_test(audio, G_FILE_TEST_EXISTS); n++) { /* stopped and started within a second */
    g_free(base);
    g_free(audio);
    g_free(video);
    base = n > 1 ? g_strdup_printf("%s/%s-%d", dir, stem, n) : g_strdup_printf("%s/%s", dir, stem);
    audio = g_strconcat(base, "-mix.opus", NULL);
    video = g_strconcat(base, "-main.webm", NULL);
  }
  int64_t started_at_ms = 0;
  bool ok = dc_room_record_start(room, audio, video, &started_at_ms, error);
  if (ok) {
    /* beside the files: when their zero was, to the millisecond (the minutes' times, a
     * page's clock and the recording line up by it) */
    char *info = g_strconcat(base, ".json", NULL);
    char *text = g_strdup_printf("{\"started_at_ms\": %" G_GINT64_FORMAT "}\n", started_at_ms);
    GError *werr = NULL;
    if (!g_file_set_contents(info, text, -1, &werr)) {
      g_warning("meeting %" G_GINT64_FORMAT ": %s", meeting, werr->message);
      g_error_free(werr);
    }
    g_free(text);
    g_free(info);
    meeting_recording *m = state_of(srv, meeting);
    g_clear_pointer(&m->error, g_free);
    log_event(srv, meeting, started_at_ms, "recording-started", by, NULL); /* its zero */
    dc_server_broadcast_roster(srv, meeting);
  }
  g_free(base);
  g_free(audio);
  g_free(video);
  g_free(stem);
  g_free(dir);
  return ok;
}

void dc_recording_auto(dc_server *srv, int64_t meeting) {
  meeting_recording *m = state_of(srv, meeting);
  if (m->auto_done)
    return; /* once a run: a host who stopped it meant it */
  dc_meeting *mt = dc_store_get_meeting(srv->store, meeting, NULL);
  bool wanted = mt && mt->record;
  dc_meeting_free(mt);
  if (!wanted)
    return;
  m->auto_done = true;
  GError *err = NULL;
  if (!dc_recording_set(srv, meeting, true, "marked to be recorded", &err)) {
    g_warning("meeting %" G_GINT64_FORMAT ": cannot start its recording: %s", meeting, err->message);
    g_error_free(err);
  }
}

void dc_server_recording_ended(gpointer server, int64_t meeting, const char *error) {
  dc_server *srv = server;
  if (!srv || srv->shutting_down)
    return;
  if (error) {
    meeting_recording *m = state_of(srv, meeting);
    g_free(m->error);
    m->error = g_strdup(error);
    log_event(srv, meeting, 0, "recording-failed", "", error);
  }
  dc_server_broadcast_roster(srv, meeting);
}

void dc_recording_fill_roster(dc_server *srv, int64_t meeting, dc_roster_meeting *out) {
  dc_room *room = dc_bridge_find_room(srv->bridge, meeting);
  out->recording = room && dc_room_recording(room);
  meeting_recording *m = srv->recordings ? g_hash_table_lookup(srv->recordings, &meeting) : NULL;
  out->recording_error = m ? m->error : NULL;
}

/* A recording's file name as we make them: digits, '-', then mix.opus or main.webm. Anything
 * else (a path, "..") is no file of ours. */
bool dc_recording_name_ok(const char *name) {
  size_t n = strlen(name), stem = strspn(name, "0123456789-");
  return n < 64 && stem > 0 && (!strcmp(name + stem, "mix.opus") || !strcmp(name + stem, "main.webm")) &&
         name[stem - 1] == '-';
}

int64_t dc_recording_started_at_ms(dc_server *srv, int64_t meeting, const char *name) {
  const char *suffix = g_str_has_suffix(name, "-mix.opus") ? "-mix.opus" : "-main.webm";
  char *dir = dc_recording_dir(srv, meeting);
  char *stem = g_strndup(name, strlen(name) - strlen(suffix));
  char *path = g_strdup_printf("%s/%s.json", dir, stem);
  int64_t at = 0;
  JsonParser *p = json_parser_new();
  JsonNode *root = json_parser_load_from_file(p, path, NULL) ? json_parser_get_root(p) : NULL;
  if (root && JSON_NODE_HOLDS_OBJECT(root)) /* an empty file has no root */
    at = json_object_get_int_member_with_default(json_node_get_object(root), "started_at_ms", 0);
  g_object_unref(p);
  g_free(path);
  g_free(stem);
  g_free(dir);
  return at;
}

static gint by_name(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *dc_recording_list(dc_server *srv, int64_t meeting) {
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  char *dir = dc_recording_dir(srv, meeting);
  GDir *d = g_dir_open(dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d)))
    if (dc_recording_name_ok(name))
      g_ptr_array_add(names, g_strdup(name));
  if (d)
    g_dir_close(d);
  g_free(dir);
  g_ptr_array_sort(names, by_name); /* by time */
  return names;
}

void dc_recording_tick(dc_server *srv, int64_t now) {
  if (!srv->recordings)
    return;
  GHashTableIter it;
  gpointer key;
  GArray *over = g_array_new(FALSE, FALSE, sizeof(int64_t));
  g_hash_table_iter_init(&it, srv->recordings);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    int64_t meeting = *(int64_t *)key;
    dc_room *room = dc_bridge_find_room(srv->bridge, meeting);
    if (!room || !dc_room_recording(room))
      continue;
    dc_meeting *m = dc_store_get_meeting(srv->store, meeting, NULL);
    if (!m || !dc_meeting_joinable(m, now))
      g_array_append_val(over, meeting);
    dc_meeting_free(m);
  }
  for (guint i = 0; i < over->len; i++) /* not while iterating: stopping tells the roster */
    dc_recording_set(srv, g_array_index(over, int64_t, i), false, "the meeting ended", NULL);
  g_array_unref(over);
}
