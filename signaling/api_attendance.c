/* api_attendance.c — attendance: each participant's stay in the store, written at its join
 * and leave and every STAY_SAVE_EVERY_S between, with its link's samples (round trip, loss
 * each way, time without its video), the server's one-second tick that takes them and ends
 * meetings that ran past their time, and the reports: attendance as JSON or CSV (RFC 4180, in
 * the bridge's time zone) and the minutes' draft (minutes.h). */
#include <string.h>

#include "signaling/api_private.h"
#include "signaling/minutes.h"
#include "signaling/protocol.h"

#define STAY_SAVE_EVERY_S 10 /* a crash loses at most this much of a stay */

/* ---- attendance ---- */

static int cmp_int(gconstpointer a, gconstpointer b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static int median(GArray *v) {
  if (!v->len)
    return -1;
  g_array_sort(v, cmp_int);
  return g_array_index(v, int, v->len / 2);
}

/* The stay's record from its session's samples. */
static void stay_of(session *s, dc_stay *out) {
  *out = (dc_stay){.id = s->stay,
                   .rtt_ms = s->rtt ? dc_rtt_hist_median(s->rtt) : -1,
                   .loss_down_pct = s->loss_down_n ? s->loss_down_sum / s->loss_down_n : -1,
                   .loss_up_pct = s->loss_up_n ? s->loss_up_sum / s->loss_up_n : -1,
                   .video_off_s = s->video_off_s};
}

void dc_api_stay_begin(dc_server *srv, session *s) {
  GError *err = NULL;
  s->joined_at = now_s();
  g_free(s->rtt);
  s->rtt = g_new0(dc_rtt_hist, 1);
  s->stay = dc_store_stay_begin(srv->store, s->meeting, s->invitation, s->point_id, s->name, s->joined_at, &err);
  if (!s->stay) {
    g_warning("attendance: %s", err->message);
    g_error_free(err);
  }
}

void dc_api_stay_end(dc_server *srv, session *s) {
  if (s->stay) {
    dc_stay st;
    stay_of(s, &st);
    GError *err = NULL;
    if (!dc_store_stay_update(srv->store, &st, now_s(), true, &err)) {
      g_warning("attendance: %s", err->message);
      g_error_free(err);
    }
    s->stay = 0;
  }
  g_clear_pointer(&s->rtt, g_free);
}

static void sample_link(session *s) {
  dc_link_stats st;
  dc_participant_link_stats(s->participant, &st);
  if (s->rtt)
    dc_rtt_hist_add(s->rtt, st.rtt_ms);
  if (st.loss_down_pct >= 0) {
    s->loss_down_sum += st.loss_down_pct;
    s->loss_down_n++;
  }
  if (st.loss_up_pct >= 0) {
    s->loss_up_sum += st.loss_up_pct;
    s->loss_up_n++;
  }
  s->video_off_s += st.main_off;
}

/* Ends, for everyone in it, a meeting that ended by its clock (its end plus the grace). */
static void close_ended_meetings(dc_server *srv, int64_t now) {
  GHashTable *checked = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  GArray *over = g_array_new(FALSE, FALSE, sizeof(int64_t));
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (!s->participant || g_hash_table_contains(checked, &s->meeting))
      continue;
    g_hash_table_add(checked, g_memdup2(&s->meeting, sizeof s->meeting));
    dc_meeting *m = dc_store_get_meeting(srv->store, s->meeting, NULL);
    if (m && !dc_meeting_joinable(m, now))
      g_array_append_val(over, s->meeting);
    dc_meeting_free(m);
  }
  for (guint i = 0; i < over->len; i++) {
    int64_t id = g_array_index(over, int64_t, i);
    int n = dc_server_remove_sessions(srv, id, 0, DC_ERR_CODE_MEETING_ENDED, "this meeting has reached its end");
    g_message("meeting %" G_GINT64_FORMAT " reached its end; %d participant(s) disconnected", id, n);
  }
  g_array_unref(over);
  g_hash_table_unref(checked);
}

void dc_api_tick(dc_server *srv) {
  int64_t now = now_s();
  dc_server_expire_ghosts(srv);
  bool save = ++srv->ticks % STAY_SAVE_EVERY_S == 0;
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (!s->participant || !s->stay)
      continue;
    if (s->connected)
      sample_link(s);
    if (save) {
      dc_stay st;
      stay_of(s, &st);
      dc_store_stay_update(srv->store, &st, now, false, NULL);
    }
  }
  close_ended_meetings(srv, now); /* one indexed read per meeting in progress */
  dc_recording_tick(srv, now);
  if (srv->ticks % 60 == 0) {
    dc_attempts_prune(srv->bad_tokens, g_get_monotonic_time() / 1000);
    dc_attempts_prune(srv->bad_keys, g_get_monotonic_time() / 1000);
  }
}

/* One point's attendance: its stays, their total, and its link over them. */
typedef struct {
  const dc_invitation *inv;
  const dc_point *point;
  GPtrArray *stays; /* dc_stay*, borrowed */
} attendance_row;

static void attendance_summary(const attendance_row *a, int64_t now, int64_t *present, int *rtt, double *down,
                               double *up, int64_t *off) {
  GArray *rtts = g_array_new(FALSE, FALSE, sizeof(int));
  double dsum = 0, usum = 0, dw = 0, uw = 0;
  *present = *off = 0;
  for (guint i = 0; i < a->stays->len; i++) {
    dc_stay *v = a->stays->pdata[i];
    int64_t len = (v->left_at ? v->left_at : now) - v->joined_at;
    *present += len;
    *off += v->video_off_s;
    if (v->rtt_ms >= 0)
      g_array_append_val(rtts, v->rtt_ms);
    if (v->loss_down_pct >= 0) {
      dsum += v->loss_down_pct * (double)len;
      dw += (double)len;
    }
    if (v->loss_up_pct >= 0) {
      usum += v->loss_up_pct * (double)len;
      uw += (double)len;
    }
  }
  *rtt = median(rtts);
  *down = dw > 0 ? dsum / dw : -1;
  *up = uw > 0 ? usum / uw : -1;
  g_array_unref(rtts);
}

static char *local_time(dc_server *srv, int64_t t) {
  if (!t)
    return g_strdup("");
  return dc_time_format(srv->tz, t, "%Y-%m-%dT%H:%M:%S%:z");
}

/* CSV (RFC 4180): a field with a comma, quote or line break is quoted, quotes doubled. */
static void csv_field(GString *out, const char *v, bool last) {
  if (strpbrk(v, ",\"\r\n")) {
    g_string_append_c(out, '"');
    for (const char *c = v; *c; c++) {
      if (*c == '"')
        g_string_append_c(out, '"');
      g_string_append_c(out, *c);
    }
    g_string_append_c(out, '"');
  } else {
    g_string_append(out, v);
  }
  g_string_append(out, last ? "\r\n" : ",");
}

static void csv_number(GString *out, double v, bool last) {
  char buf[32];
  if (v < 0)
    buf[0] = '\0';
  else
    g_snprintf(buf, sizeof buf, "%.1f", v);
  csv_field(out, buf, last);
}

void api_attendance(dc_server *srv, SoupServerMessage *msg, GHashTable *query, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *invs = m ? dc_store_list_invitations(srv->store, id, &err) : NULL;
  GPtrArray *stays = invs ? dc_store_list_stays(srv->store, id, &err) : NULL;
  if (!stays) {
    if (invs)
      g_ptr_array_unref(invs);
    dc_meeting_free(m);
    return api_reply_store_error(msg, err);
  }
  const char *format = query ? g_hash_table_lookup(query, "format") : NULL;
  bool csv = format && !strcmp(format, "csv");
  if (format && !csv && strcmp(format, "json")) {
    api_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", "format must be json or csv");
  } else {
    int64_t now = now_s();
    /* one row per invited point, in invitation order; stays go to their point's row */
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(attendance_row));
    GPtrArray *points = g_ptr_array_new_with_free_func((GDestroyNotify)dc_point_free);
    for (guint i = 0; i < invs->len; i++) {
      dc_invitation *inv = invs->pdata[i];
      bool dup = false;
      for (guint r = 0; r < rows->len; r++)
        dup |= g_array_index(rows, attendance_row, r).inv->point_id == inv->point_id;
      if (dup)
        continue;
      dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
      g_ptr_array_add(points, p);
      attendance_row a = {inv, p, g_ptr_array_new()};
      for (guint k = 0; k < stays->len; k++)
        if (((dc_stay *)stays->pdata[k])->point_id == inv->point_id)
          g_ptr_array_add(a.stays, stays->pdata[k]);
      g_array_append_val(rows, a);
    }
    if (csv) {
      GString *out = g_string_new("");
      const char *head[] = {"meeting_id", "meeting", "point_id", "point", "role", "participant", "joined_at",
                            "left_at", "present_s", "rtt_ms", "loss_down_pct", "loss_up_pct", "video_off_s"};
      for (size_t i = 0; i < G_N_ELEMENTS(head); i++)
        csv_field(out, head[i], i + 1 == G_N_ELEMENTS(head));
      for (guint r = 0; r < rows->len; r++) {
        attendance_row *a = &g_array_index(rows, attendance_row, r);
        guint n = MAX(a->stays->len, 1); /* invited and never joined: one row, no times */
        for (guint k = 0; k < n; k++) {
          dc_stay *v = k < a->stays->len ? a->stays->pdata[k] : NULL;
          char num[32];
          g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, m->id);
          csv_field(out, num, false);
          csv_field(out, m->title, false);
          g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, a->inv->point_id);
          csv_field(out, num, false);
          csv_field(out, a->point ? a->point->name : "", false);
          csv_field(out, a->inv->role, false);
          csv_field(out, v ? v->name : "", false);
          char *joined = local_time(srv, v ? v->joined_at : 0), *left = local_time(srv, v ? v->left_at : 0);
          csv_field(out, joined, false);
          csv_field(out, left, false);
          g_free(joined);
          g_free(left);
          if (v)
            g_snprintf(num, sizeof num, "%" G_GINT64_FORMAT, (v->left_at ? v->left_at : now) - v->joined_at);
          else
            g_strlcpy(num, "0", sizeof num);
          csv_field(out, num, false);
          csv_number(out, v ? v->rtt_ms : -1, false);
          csv_number(out, v ? v->loss_down_pct : -1, false);
          csv_number(out, v ? v->loss_up_pct : -1, false);
          csv_number(out, v ? (double)v->video_off_s : -1, true);
        }
      }
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      char *disposition = g_strdup_printf("attachment; filename=\"attendance-%" G_GINT64_FORMAT ".csv\"", m->id);
      soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Content-Disposition", disposition);
      g_free(disposition);
      gsize len = out->len;
      soup_server_message_set_response(msg, "text/csv; charset=utf-8", SOUP_MEMORY_TAKE, g_string_free(out, FALSE), len);
    } else {
      JsonBuilder *b = json_builder_new();
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "meeting");
      json_builder_add_value(b, api_meeting_json(m));
      json_builder_set_member_name(b, "points");
      json_builder_begin_array(b);
      for (guint r = 0; r < rows->len; r++) {
        attendance_row *a = &g_array_index(rows, attendance_row, r);
        int64_t present, off;
        int rtt;
        double down, up;
        attendance_summary(a, now, &present, &rtt, &down, &up, &off);
        json_builder_begin_object(b);
        put_int(b, "point_id", a->inv->point_id);
        put_str(b, "point", a->point ? a->point->name : "");
        put_str(b, "role", a->inv->role);
        put_bool(b, "attended", a->stays->len > 0);
        put_int(b, "present_s", present);
        json_builder_set_member_name(b, "rtt_ms");
        if (rtt < 0)
          json_builder_add_null_value(b);
        else
          json_builder_add_int_value(b, rtt);
        put_double(b, "loss_down_pct", down);
        put_double(b, "loss_up_pct", up);
        put_int(b, "video_off_s", off);
        json_builder_set_member_name(b, "stays");
        json_builder_begin_array(b);
        for (guint k = 0; k < a->stays->len; k++) {
          dc_stay *v = a->stays->pdata[k];
          json_builder_begin_object(b);
          put_str(b, "name", v->name);
          put_int(b, "joined_at", v->joined_at);
          put_opt_int(b, "left_at", v->left_at);
          json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
      }
      json_builder_end_array(b);
      json_builder_end_object(b);
      api_reply(msg, SOUP_STATUS_OK, finish(b));
    }
    for (guint r = 0; r < rows->len; r++)
      g_ptr_array_unref(g_array_index(rows, attendance_row, r).stays);
    g_array_unref(rows);
    g_ptr_array_unref(points);
  }
  g_ptr_array_unref(stays);
  g_ptr_array_unref(invs);
  dc_meeting_free(m);
}

/* GET /api/meetings/ID/minutes[?format=html]: the minutes draft (signaling/minutes.h). */
void api_minutes(dc_server *srv, SoupServerMessage *msg, GHashTable *query, int64_t id) {
  const char *format = query ? g_hash_table_lookup(query, "format") : NULL;
  bool html = format && !strcmp(format, "html");
  if (format && !html && strcmp(format, "json"))
    return api_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", "format must be json or html");
  GError *err = NULL;
  char *text = html ? dc_minutes_html(srv->store, id, srv->tz, &err) : dc_minutes_json(srv->store, id, srv->tz, &err);
  if (!text)
    return api_reply_store_error(msg, err);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
  soup_server_message_set_response(msg, html ? "text/html; charset=utf-8" : "application/json", SOUP_MEMORY_TAKE, text,
                                   strlen(text));
}
