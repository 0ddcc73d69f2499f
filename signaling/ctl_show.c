/* ctl_show.c — diemcau-ctl's output for people (see ctl.c): each API answer as a table whose
 * columns are as wide as their widest cell, or as a line; times on the bridge's wall clock as
 * "YYYY-MM-DD HH:MM". Scripts take --json, the API's own JSON, instead. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "signaling/ctl_private.h"

GTimeZone *ctl_zone;

const char *ctl_str(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : "";
}

static gint64 num(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : 0;
}

static bool is_null(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return !n || JSON_NODE_HOLDS_NULL(n);
}

static char *when(gint64 t) {
  if (!t)
    return g_strdup("");
  GDateTime *u = g_date_time_new_from_unix_utc(t);
  GDateTime *l = u ? g_date_time_to_timezone(u, ctl_zone) : NULL;
  char *text = l ? g_date_time_format(l, "%Y-%m-%d %H:%M") : g_strdup("?"); /* past GLib's calendar */
  if (l)
    g_date_time_unref(l);
  if (u)
    g_date_time_unref(u);
  return text;
}

/* A table: rows of cells (strings), columns as wide as their widest cell in characters. */
typedef struct {
  GPtrArray *rows; /* GPtrArray* of char* */
  int cols;
} table;

static table *table_new(int cols, ...) {
  table *t = g_new0(table, 1);
  t->cols = cols;
  t->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
  GPtrArray *head = g_ptr_array_new_with_free_func(g_free);
  va_list ap;
  va_start(ap, cols);
  for (int i = 0; i < cols; i++)
    g_ptr_array_add(head, g_strdup(va_arg(ap, const char *)));
  va_end(ap);
  g_ptr_array_add(t->rows, head);
  return t;
}

/* Takes the cells (g_strdup'd or made by us). */
static void table_row(table *t, ...) {
  GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
  va_list ap;
  va_start(ap, t);
  for (int i = 0; i < t->cols; i++)
    g_ptr_array_add(row, va_arg(ap, char *));
  va_end(ap);
  g_ptr_array_add(t->rows, row);
}

static void table_print(table *t) {
  int *w = g_new0(int, t->cols);
  for (guint r = 0; r < t->rows->len; r++)
    for (int c = 0; c < t->cols; c++)
      w[c] = MAX(w[c], (int)g_utf8_strlen(((GPtrArray *)t->rows->pdata[r])->pdata[c], -1));
  for (guint r = 0; r < t->rows->len; r++) {
    GString *line = g_string_new("");
    for (int c = 0; c < t->cols; c++) {
      const char *cell = ((GPtrArray *)t->rows->pdata[r])->pdata[c];
      g_string_append(line, cell);
      if (c + 1 < t->cols)
        for (int pad = (int)g_utf8_strlen(cell, -1); pad < w[c] + 2; pad++)
          g_string_append_c(line, ' ');
    }
    while (line->len && line->str[line->len - 1] == ' ')
      g_string_truncate(line, line->len - 1);
    printf("%s\n", line->str);
    g_string_free(line, TRUE);
  }
  if (t->rows->len == 1)
    printf("(none)\n");
  g_free(w);
  g_ptr_array_unref(t->rows);
  g_free(t);
}

static char *i64(gint64 v) { return g_strdup_printf("%" G_GINT64_FORMAT, v); }

void ctl_print_json(JsonNode *n) {
  char *text = json_to_string(n, TRUE);
  printf("%s\n", text);
  g_free(text);
}

void ctl_points_table(JsonNode *root) {
  table *t = table_new(6, "ID", "NAME", "KIND", "LINK", "DEVICE", "CONTACT");
  JsonArray *a = json_node_get_array(root);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    bool dev = json_object_get_boolean_member_with_default(o, "has_device_key", FALSE);
    table_row(t, i64(num(o, "id")), g_strdup(ctl_str(o, "name")), g_strdup(ctl_str(o, "kind")), g_strdup(ctl_str(o, "link_profile")),
              g_strdup(dev ? "yes" : "-"), g_strdup(ctl_str(o, "contact")));
  }
  table_print(t);
}

void ctl_point_one(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  printf("point %" G_GINT64_FORMAT ": %s (%s, link %s)%s%s\n", num(o, "id"), ctl_str(o, "name"), ctl_str(o, "kind"),
         ctl_str(o, "link_profile"), *ctl_str(o, "contact") ? ", contact " : "", ctl_str(o, "contact"));
}

void ctl_groups_table(JsonNode *root) {
  table *t = table_new(3, "ID", "NAME", "POINTS");
  JsonArray *a = json_node_get_array(root);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    JsonArray *pts = json_object_get_array_member(o, "point_ids");
    GString *ids = g_string_new("");
    for (guint k = 0; k < json_array_get_length(pts); k++)
      g_string_append_printf(ids, "%s%" G_GINT64_FORMAT, k ? " " : "", json_array_get_int_element(pts, k));
    table_row(t, i64(num(o, "id")), g_strdup(ctl_str(o, "name")), g_string_free(ids, FALSE));
  }
  table_print(t);
}

void ctl_group_one(JsonNode *root) {
  JsonArray *a = json_array_new();
  json_array_add_element(a, json_node_copy(root));
  JsonNode *n = json_node_new(JSON_NODE_ARRAY);
  json_node_take_array(n, a);
  ctl_groups_table(n);
  json_node_unref(n);
}

void ctl_meetings_table(JsonNode *root) {
  table *t = table_new(6, "ID", "STATE", "STARTS", "ENDS", "SERIES", "TITLE");
  JsonArray *a = json_node_get_array(root);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    table_row(t, i64(num(o, "id")), g_strdup(ctl_str(o, "state")), when(num(o, "starts_at")), when(num(o, "ends_at")),
              is_null(o, "series_id") ? g_strdup("-") : i64(num(o, "series_id")), g_strdup(ctl_str(o, "title")));
  }
  table_print(t);
}

void ctl_meeting_one(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  char *s = when(num(o, "starts_at")), *e = when(num(o, "ends_at")), *opens = when(num(o, "opens_at"));
  printf("meeting %" G_GINT64_FORMAT ": %s\n  %s: %s to %s (points may join from %s)\n", num(o, "id"), ctl_str(o, "title"),
         ctl_str(o, "state"), s, e, opens);
  if (json_object_has_member(o, "occurrences") && num(o, "occurrences") > 1)
    printf("  a series of %" G_GINT64_FORMAT " occurrences\n", num(o, "occurrences"));
  g_free(s), g_free(e), g_free(opens);
  if (!json_object_has_member(o, "invitations"))
    return;
  table *t = table_new(5, "INVITATION", "POINT", "ROLE", "STATE", "JOIN LINK");
  JsonArray *a = json_object_get_array_member(o, "invitations");
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *inv = json_array_get_object_element(a, i);
    bool revoked = json_object_get_boolean_member_with_default(inv, "revoked", FALSE);
    table_row(t, i64(num(inv, "id")), g_strdup(ctl_str(inv, "point")), g_strdup(ctl_str(inv, "role")),
              g_strdup(revoked ? "withdrawn" : is_null(inv, "join_link") ? "expired" : "valid"),
              g_strdup(is_null(inv, "join_link") ? "-" : ctl_str(inv, "join_link")));
  }
  printf("\n");
  table_print(t);
}

void ctl_invitations_table(JsonNode *root) {
  JsonObject *o = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
  JsonArray *a = o && json_object_has_member(o, "invitations") ? json_object_get_array_member(o, "invitations") : NULL;
  table *t = table_new(4, "INVITATION", "POINT", "ROLE", "JOIN LINK");
  for (guint i = 0; a ? i < json_array_get_length(a) : i < 1; i++) {
    JsonObject *inv = a ? json_array_get_object_element(a, i) : o;
    table_row(t, i64(num(inv, "id")), g_strdup(ctl_str(inv, "point")), g_strdup(ctl_str(inv, "role")), g_strdup(ctl_str(inv, "join_link")));
  }
  table_print(t);
}

static char *pct(JsonObject *o, const char *name) {
  return is_null(o, name) ? g_strdup("-") : g_strdup_printf("%.1f%%", json_object_get_double_member(o, name));
}

void ctl_live_table(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  JsonObject *m = json_object_get_object_member(o, "meeting");
  printf("meeting %" G_GINT64_FORMAT ": %s (%s)\n\n", num(m, "id"), ctl_str(m, "title"), ctl_str(m, "state"));
  table *t = table_new(9, "POINT", "STATUS", "PARTICIPANT", "RTT", "LOSS DOWN/UP", "KBIT/S DOWN/UP", "VIDEO", "AUDIO LOSS",
                       "");
  JsonArray *pts = json_object_get_array_member(o, "points");
  for (guint i = 0; i < json_array_get_length(pts); i++) {
    JsonObject *p = json_array_get_object_element(pts, i);
    JsonArray *ps = json_object_get_array_member(p, "participants");
    if (!json_array_get_length(ps))
      table_row(t, g_strdup(ctl_str(p, "name")), g_strdup(ctl_str(p, "status")), g_strdup("-"), g_strdup(""), g_strdup(""),
                g_strdup(""), g_strdup(""), g_strdup(""), g_strdup(""));
    for (guint k = 0; k < json_array_get_length(ps); k++) {
      JsonObject *q = json_array_get_object_element(ps, k), *l = json_object_get_object_member(q, "link");
      char *down = pct(l, "loss_down_pct"), *up = pct(l, "loss_up_pct");
      bool off = json_object_get_boolean_member_with_default(l, "video_off", FALSE);
      table_row(t, g_strdup(ctl_str(p, "name")), g_strdup(ctl_str(p, "status")), g_strdup(ctl_str(q, "name")),
                is_null(l, "rtt_ms") ? g_strdup("-") : g_strdup_printf("%" G_GINT64_FORMAT " ms", num(l, "rtt_ms")),
                g_strdup_printf("%s / %s", down, up), g_strdup_printf("%" G_GINT64_FORMAT " / %" G_GINT64_FORMAT,
                                                                    num(l, "kbps_down"), num(l, "kbps_up")),
                g_strdup(off ? "off (bandwidth)" : *ctl_str(l, "video_layer") ? ctl_str(l, "video_layer") : "-"),
                pct(l, "audio_loss_pct"),
                g_strdup(json_object_get_boolean_member_with_default(q, "speaking", FALSE) ? "speaking" : ""));
      g_free(down), g_free(up);
    }
  }
  table_print(t);
}

void ctl_attendance_table(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  JsonObject *m = json_object_get_object_member(o, "meeting");
  printf("meeting %" G_GINT64_FORMAT ": %s\n\n", num(m, "id"), ctl_str(m, "title"));
  table *t = table_new(7, "POINT", "ATTENDED", "PRESENT", "STAYS", "RTT", "LOSS DOWN/UP", "VIDEO OFF");
  JsonArray *pts = json_object_get_array_member(o, "points");
  for (guint i = 0; i < json_array_get_length(pts); i++) {
    JsonObject *p = json_array_get_object_element(pts, i);
    JsonArray *stays = json_object_get_array_member(p, "stays");
    GString *s = g_string_new("");
    for (guint k = 0; k < json_array_get_length(stays); k++) {
      JsonObject *v = json_array_get_object_element(stays, k);
      char *a = when(num(v, "joined_at")), *b = is_null(v, "left_at") ? g_strdup("now") : when(num(v, "left_at"));
      g_string_append_printf(s, "%s%s–%s", k ? ", " : "", a + 11, b[0] == 'n' ? b : b + 11);
      g_free(a), g_free(b);
    }
    char *down = pct(p, "loss_down_pct"), *up = pct(p, "loss_up_pct");
    gint64 present = num(p, "present_s");
    table_row(t, g_strdup(ctl_str(p, "point")), g_strdup(json_object_get_boolean_member(p, "attended") ? "yes" : "no"),
              g_strdup_printf("%" G_GINT64_FORMAT " min", (present + 30) / 60), g_string_free(s, FALSE),
              is_null(p, "rtt_ms") ? g_strdup("-") : g_strdup_printf("%" G_GINT64_FORMAT " ms", num(p, "rtt_ms")),
              g_strdup_printf("%s / %s", down, up), g_strdup_printf("%" G_GINT64_FORMAT " s", num(p, "video_off_s")));
    g_free(down), g_free(up);
  }
  table_print(t);
}

void ctl_keys_table(JsonNode *root) {
  table *t = table_new(5, "ID", "NAME", "ROLE", "CREATED", "REVOKED");
  JsonArray *a = json_node_get_array(root);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    table_row(t, i64(num(o, "id")), g_strdup(ctl_str(o, "name")), g_strdup(ctl_str(o, "role")), when(num(o, "created_at")),
              is_null(o, "revoked_at") ? g_strdup("-") : when(num(o, "revoked_at")));
  }
  table_print(t);
}

void ctl_key_made(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  printf("key %" G_GINT64_FORMAT " \"%s\" (%s): %s\nShown once: the bridge keeps only its hash.\n", num(o, "id"),
         ctl_str(o, "name"), ctl_str(o, "role"), ctl_str(o, "key"));
}

void ctl_audit_table(JsonNode *root) {
  table *t = table_new(4, "WHEN", "WHO", "ACTION", "WHAT");
  JsonArray *a = json_node_get_array(root);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonObject *o = json_array_get_object_element(a, i);
    table_row(t, when(num(o, "at")), g_strdup(ctl_str(o, "who")), g_strdup(ctl_str(o, "action")), g_strdup(ctl_str(o, "detail")));
  }
  table_print(t);
}

void ctl_done_line(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  GList *names = json_object_get_members(o);
  for (GList *l = names; l; l = l->next)
    if (strcmp(l->data, "disconnected"))
      printf("%s %" G_GINT64_FORMAT, (const char *)l->data, num(o, l->data));
  printf("; %" G_GINT64_FORMAT " participant(s) disconnected\n", num(o, "disconnected"));
  g_list_free(names);
}

void ctl_device_key_line(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  printf("device key for point %" G_GINT64_FORMAT ": %s\nShown once; it replaces the point's old key.\n", num(o, "point_id"),
         ctl_str(o, "device_key"));
}
