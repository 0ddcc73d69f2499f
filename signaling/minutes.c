/* minutes.c — the minutes draft; see minutes.h. */
#include "signaling/minutes.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  int64_t point_id;
  char *name, *role;
  int64_t first_ms, last_ms, present_s; /* from the stays; 0 when absent */
  int64_t spoke_ms;
} row;

typedef struct {
  int64_t start_ms, ms;
  char *point, *name;
} turn;

typedef struct {
  int64_t at_ms;
  const char *kind, *words; /* kind: the log's; words: for people */
  char *point;
} action;

typedef struct {
  dc_meeting *m;
  GTimeZone *tz;
  char *chair;
  GArray *rows;    /* row, in invitation order */
  GArray *turns;   /* turn, by time */
  GArray *actions; /* action, by time */
  GPtrArray *events;
  int64_t record_end_ms;
} draft;

static const struct {
  const char *kind, *words;
} ACTIONS[] = {
    {"floor-given", "trao lời cho"},    {"floor-taken", "lấy lại lời của"}, {"host-mute", "tắt micro của"},
    {"host-unmute", "bật micro của"},   {"mute-all", "tắt micro tất cả"},  {"unmute-all", "bật micro tất cả"},
    {"removed", "mời ra khỏi họp"},     {"readmitted", "cho vào lại"},      {"locked", "khóa cuộc họp"},
    {"unlocked", "mở khóa cuộc họp"},   {"ended", "kết thúc cuộc họp"},
    {"recording-started", "bắt đầu ghi hình"}, {"recording-stopped", "dừng ghi hình"},
    {"recording-failed", "ghi hình bị dừng vì lỗi"},
};

static const char *action_words(const char *kind) {
  for (size_t i = 0; i < G_N_ELEMENTS(ACTIONS); i++)
    if (!strcmp(ACTIONS[i].kind, kind))
      return ACTIONS[i].words;
  return NULL;
}

static void draft_free(draft *d) {
  for (guint i = 0; d->rows && i < d->rows->len; i++) {
    g_free(g_array_index(d->rows, row, i).name);
    g_free(g_array_index(d->rows, row, i).role);
  }
  for (guint i = 0; d->turns && i < d->turns->len; i++) {
    g_free(g_array_index(d->turns, turn, i).point);
    g_free(g_array_index(d->turns, turn, i).name);
  }
  for (guint i = 0; d->actions && i < d->actions->len; i++)
    g_free(g_array_index(d->actions, action, i).point);
  if (d->rows)
    g_array_unref(d->rows);
  if (d->turns)
    g_array_unref(d->turns);
  if (d->actions)
    g_array_unref(d->actions);
  if (d->events)
    g_ptr_array_unref(d->events);
  dc_meeting_free(d->m);
  g_free(d->chair);
}

static row *row_of_point(draft *d, const char *point) {
  for (guint i = 0; i < d->rows->len; i++)
    if (!strcmp(g_array_index(d->rows, row, i).name, point))
      return &g_array_index(d->rows, row, i);
  return NULL;
}

static bool build(draft *d, dc_store *s, int64_t id, GTimeZone *tz, GError **error) {
  memset(d, 0, sizeof *d);
  d->tz = tz;
  d->m = dc_store_get_meeting(s, id, error);
  if (!d->m)
    return false;
  GPtrArray *invs = dc_store_list_invitations(s, id, error);
  GPtrArray *stays = invs ? dc_store_list_stays(s, id, error) : NULL;
  d->events = stays ? dc_store_list_events(s, id, error) : NULL;
  if (!d->events) {
    if (invs)
      g_ptr_array_unref(invs);
    if (stays)
      g_ptr_array_unref(stays);
    return false;
  }
  d->rows = g_array_new(FALSE, TRUE, sizeof(row));
  d->turns = g_array_new(FALSE, TRUE, sizeof(turn));
  d->actions = g_array_new(FALSE, TRUE, sizeof(action));
  /* the record ends when the meeting was ended, else at its last logged event */
  int64_t last_event = d->events->len ? ((dc_meeting_event *)g_ptr_array_index(d->events, d->events->len - 1))->at_ms : 0;
  d->record_end_ms = d->m->ended_at ? MAX(d->m->ended_at * 1000, last_event) : last_event;
  dc_point *host = d->m->host_point_id ? dc_store_get_point(s, d->m->host_point_id, NULL) : NULL;
  for (guint i = 0; i < invs->len; i++) {
    dc_invitation *inv = invs->pdata[i];
    bool seen = false;
    for (guint k = 0; k < d->rows->len; k++)
      seen |= g_array_index(d->rows, row, k).point_id == inv->point_id;
    dc_point *p = seen ? NULL : dc_store_get_point(s, inv->point_id, NULL);
    if (!p)
      continue;
    row r = {.point_id = p->id, .name = g_strdup(p->name), .role = g_strdup(inv->role)};
    for (guint k = 0; k < stays->len; k++) {
      dc_stay *v = stays->pdata[k];
      if (v->point_id != p->id)
        continue;
      int64_t left = v->left_at ? v->left_at : MAX(v->seen_at, v->joined_at);
      r.first_ms = r.first_ms ? MIN(r.first_ms, v->joined_at * 1000) : v->joined_at * 1000;
      r.last_ms = MAX(r.last_ms, left * 1000);
      r.present_s += left - v->joined_at;
    }
    if (!host && !strcmp(inv->role, "host"))
      host = dc_store_get_point(s, inv->point_id, NULL);
    g_array_append_val(d->rows, r);
    dc_point_free(p);
  }
  d->chair = g_strdup(host ? host->name : "");
  dc_point_free(host);
  g_ptr_array_unref(invs);
  g_ptr_array_unref(stays);
  /* turns: from each "speaker" event to the next (or the record's end); the same point's
   * neighbours merged, short ones dropped */
  for (guint i = 0; i < d->events->len; i++) {
    dc_meeting_event *e = d->events->pdata[i];
    const char *words = action_words(e->kind);
    if (words) {
      action a = {e->at_ms, e->kind, words, g_strdup(e->point)};
      g_array_append_val(d->actions, a);
    }
    if (strcmp(e->kind, "speaker") || !*e->point)
      continue;
    int64_t end = d->record_end_ms;
    for (guint k = i + 1; k < d->events->len; k++) {
      dc_meeting_event *n = d->events->pdata[k];
      /* a turn ends at the next speaker, or when its speaker leaves */
      if (!strcmp(n->kind, "speaker") || (!strcmp(n->kind, "leave") && !strcmp(n->point, e->point))) {
        end = n->at_ms;
        break;
      }
    }
    if (end - e->at_ms < MINUTES_MIN_SPAN_MS)
      continue;
    turn *last = d->turns->len ? &g_array_index(d->turns, turn, d->turns->len - 1) : NULL;
    if (last && !strcmp(last->point, e->point)) {
      last->ms = end - last->start_ms;
    } else {
      turn t = {e->at_ms, end - e->at_ms, g_strdup(e->point), g_strdup(e->name)};
      g_array_append_val(d->turns, t);
    }
  }
  for (guint i = 0; i < d->turns->len; i++) {
    turn *t = &g_array_index(d->turns, turn, i);
    row *r = row_of_point(d, t->point);
    if (r)
      r->spoke_ms += t->ms;
  }
  return true;
}

static char *fmt(const draft *d, int64_t ms, const char *format) {
  if (!ms)
    return g_strdup("");
  return dc_time_format(d->tz, ms / 1000, format);
}

static char *duration(int64_t s) {
  return s >= 60 ? g_strdup_printf("%" G_GINT64_FORMAT " phút %" G_GINT64_FORMAT " giây", s / 60, s % 60)
                 : g_strdup_printf("%" G_GINT64_FORMAT " giây", s);
}

/* ---- JSON ---- */

static void put_str(JsonBuilder *b, const char *name, const char *v) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, v);
}

static void put_int(JsonBuilder *b, const char *name, int64_t v) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, v);
}

static void put_time(JsonBuilder *b, const draft *d, const char *name, int64_t ms) {
  char *t = fmt(d, ms, "%Y-%m-%dT%H:%M:%S%:z");
  put_str(b, name, t);
  g_free(t);
}

static gint by_spoken(gconstpointer a, gconstpointer b) {
  const row *x = *(row *const *)a, *y = *(row *const *)b;
  return x->spoke_ms != y->spoke_ms ? (x->spoke_ms < y->spoke_ms) - (x->spoke_ms > y->spoke_ms) : strcmp(x->name, y->name);
}

static GPtrArray *speakers_by_time(const draft *d) {
  GPtrArray *v = g_ptr_array_new();
  for (guint i = 0; i < d->rows->len; i++)
    if (g_array_index(d->rows, row, i).spoke_ms >= 1000)
      g_ptr_array_add(v, &g_array_index(d->rows, row, i));
  g_ptr_array_sort(v, by_spoken);
  return v;
}

char *dc_minutes_json(dc_store *s, int64_t id, GTimeZone *tz, GError **error) {
  draft d;
  if (!build(&d, s, id, tz, error)) {
    draft_free(&d);
    return NULL;
  }
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_str(b, "draft", "biên bản cuộc họp (dự thảo)");
  put_int(b, "meeting_id", d.m->id);
  put_str(b, "title", d.m->title);
  put_time(b, &d, "starts_at", d.m->starts_at * 1000);
  put_time(b, &d, "ends_at", d.m->ends_at * 1000);
  put_time(b, &d, "record_ends_at", d.record_end_ms);
  put_str(b, "chair", d.chair);
  const char *lists[] = {"present", "absent"};
  for (int present = 1; present >= 0; present--) {
    json_builder_set_member_name(b, lists[1 - present]);
    json_builder_begin_array(b);
    for (guint i = 0; i < d.rows->len; i++) {
      row *r = &g_array_index(d.rows, row, i);
      if ((r->first_ms != 0) != present)
        continue;
      json_builder_begin_object(b);
      put_str(b, "point", r->name);
      put_str(b, "role", r->role);
      if (present) {
        put_time(b, &d, "first_joined", r->first_ms);
        put_time(b, &d, "last_left", r->last_ms);
        put_int(b, "present_s", r->present_s);
        put_int(b, "spoke_s", r->spoke_ms / 1000);
      }
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
  }
  json_builder_set_member_name(b, "speaking");
  json_builder_begin_array(b);
  for (guint i = 0; i < d.turns->len; i++) {
    turn *t = &g_array_index(d.turns, turn, i);
    json_builder_begin_object(b);
    put_time(b, &d, "at", t->start_ms);
    put_str(b, "point", t->point);
    put_str(b, "name", t->name);
    put_int(b, "seconds", t->ms / 1000);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_set_member_name(b, "speaking_totals");
  json_builder_begin_array(b);
  GPtrArray *most = speakers_by_time(&d);
  for (guint i = 0; i < most->len; i++) {
    row *r = most->pdata[i];
    json_builder_begin_object(b);
    put_str(b, "point", r->name);
    put_int(b, "seconds", r->spoke_ms / 1000);
    json_builder_end_object(b);
  }
  g_ptr_array_unref(most);
  json_builder_end_array(b);
  json_builder_set_member_name(b, "chair_actions");
  json_builder_begin_array(b);
  for (guint i = 0; i < d.actions->len; i++) {
    action *a = &g_array_index(d.actions, action, i);
    json_builder_begin_object(b);
    put_time(b, &d, "at", a->at_ms);
    put_str(b, "action", a->kind);
    put_str(b, "words", a->words);
    put_str(b, "point", a->point);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  JsonNode *root = json_builder_get_root(b);
  char *text = json_to_string(root, TRUE);
  json_node_unref(root);
  g_object_unref(b);
  draft_free(&d);
  return text;
}

/* ---- HTML ---- */

static void esc(GString *out, const char *text) {
  char *e = g_markup_escape_text(text, -1);
  g_string_append(out, e);
  g_free(e);
}

char *dc_minutes_html(dc_store *s, int64_t id, GTimeZone *tz, GError **error) {
  draft d;
  if (!build(&d, s, id, tz, error)) {
    draft_free(&d);
    return NULL;
  }
  GString *o = g_string_new("<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n<title>Biên bản: ");
  esc(o, d.m->title);
  g_string_append(o, "</title>\n<style>body{font-family:serif;max-width:48rem;margin:2rem auto;line-height:1.4}"
                     "h1{text-align:center;font-size:1.3rem}table{border-collapse:collapse;width:100%}"
                     "td,th{border:1px solid #888;padding:.2rem .4rem;text-align:left}.note{color:#555}</style>\n"
                     "</head>\n<body>\n<h1>BIÊN BẢN CUỘC HỌP<br>(dự thảo)</h1>\n<p><b>Cuộc họp:</b> ");
  esc(o, d.m->title);
  char *day = fmt(&d, d.m->starts_at * 1000, "%d/%m/%Y"), *from = fmt(&d, d.m->starts_at * 1000, "%H:%M"),
       *to = fmt(&d, d.m->ends_at * 1000, "%H:%M"), *end = fmt(&d, d.record_end_ms, "%H:%M");
  g_string_append_printf(o, "</p>\n<p><b>Thời gian:</b> ngày %s, từ %s đến %s theo lịch; ghi nhận đến %s.</p>\n<p><b>Chủ trì:</b> ",
                         day, from, to, *end ? end : "—");
  g_free(day), g_free(from), g_free(to), g_free(end);
  esc(o, *d.chair ? d.chair : "—");
  g_string_append(o, "</p>\n<h2>Điểm cầu có mặt</h2>\n<table>\n<tr><th>Điểm cầu</th><th>Vào</th><th>Ra</th><th>Thời gian dự</th><th>Thời gian phát biểu</th></tr>\n");
  for (guint i = 0; i < d.rows->len; i++) {
    row *r = &g_array_index(d.rows, row, i);
    if (!r->first_ms)
      continue;
    char *a = fmt(&d, r->first_ms, "%H:%M"), *b = fmt(&d, r->last_ms, "%H:%M"), *p = duration(r->present_s),
         *sp = duration(r->spoke_ms / 1000);
    g_string_append(o, "<tr><td>");
    esc(o, r->name);
    g_string_append_printf(o, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", a, b, p, sp);
    g_free(a), g_free(b), g_free(p), g_free(sp);
  }
  g_string_append(o, "</table>\n<h2>Điểm cầu vắng mặt</h2>\n<ul>\n");
  guint absent = 0;
  for (guint i = 0; i < d.rows->len; i++) {
    row *r = &g_array_index(d.rows, row, i);
    if (r->first_ms)
      continue;
    g_string_append(o, "<li>");
    esc(o, r->name);
    g_string_append(o, "</li>\n");
    absent++;
  }
  if (!absent)
    g_string_append(o, "<li>Không có</li>\n");
  g_string_append(o, "</ul>\n<h2>Diễn biến phát biểu</h2>\n<table>\n<tr><th>Lúc</th><th>Điểm cầu</th><th>Người</th><th>Thời lượng</th></tr>\n");
  for (guint i = 0; i < d.turns->len; i++) {
    turn *t = &g_array_index(d.turns, turn, i);
    char *at = fmt(&d, t->start_ms, "%H:%M:%S"), *len = duration(t->ms / 1000);
    g_string_append_printf(o, "<tr><td>%s</td><td>", at);
    esc(o, t->point);
    g_string_append(o, "</td><td>");
    esc(o, t->name);
    g_string_append_printf(o, "</td><td>%s</td></tr>\n", len);
    g_free(at), g_free(len);
  }
  g_string_append(o, "</table>\n<h2>Điều hành của chủ trì</h2>\n<ul>\n");
  for (guint i = 0; i < d.actions->len; i++) {
    action *a = &g_array_index(d.actions, action, i);
    char *at = fmt(&d, a->at_ms, "%H:%M:%S");
    g_string_append_printf(o, "<li>%s: %s ", at, a->words);
    esc(o, a->point);
    g_string_append(o, "</li>\n");
    g_free(at);
  }
  if (!d.actions->len)
    g_string_append(o, "<li>Không có</li>\n");
  g_string_append(o, "</ul>\n<p class=\"note\">Dự thảo do hệ thống lập từ nhật ký cuộc họp (người phát biểu do bộ trộn âm "
                     "thanh nhận biết). Thư ký bổ sung nội dung, kết luận trước khi trình ký.</p>\n</body>\n</html>\n");
  draft_free(&d);
  return g_string_free(o, FALSE);
}
