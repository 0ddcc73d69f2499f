/* api_meetings.c — the operator API's points, groups, meetings (one-off and weekly series),
 * invitations and their join links, the live view of a meeting in progress, its events and
 * its recordings (README, "Operator API"; api.c says who may do what, api_private.h what the
 * files share). A change is one store transaction and one audit line; a refused one changes
 * nothing. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/api_private.h"
#include "signaling/protocol.h"

#define MAX_OCCURRENCES 104 /* two years of a weekly meeting */

/* ---- points and groups ---- */

void api_points(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post) {
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_points(srv->store, &err);
    if (!all)
      return api_reply_store_error(msg, err);
    api_reply(msg, SOUP_STATUS_OK, api_array_of(all, (JsonNode * (*)(gconstpointer)) api_point_json));
    g_ptr_array_unref(all);
    return;
  }
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  const char *name, *kind, *profile, *contact = "";
  if (o && api_want_string(msg, o, "name", true, &name) && api_want_string(msg, o, "kind", true, &kind) &&
      api_want_string(msg, o, "link_profile", true, &profile) && api_want_string(msg, o, "contact", false, &contact)) {
    int64_t id = dc_store_add_point_contact(srv->store, name, kind, profile, contact, &err);
    dc_point *p = id ? dc_store_get_point(srv->store, id, &err) : NULL;
    if (p) {
      api_audit_write(srv, k, "point.create", "%s (%s, %s) #%" G_GINT64_FORMAT, p->name, p->kind, p->link_profile, p->id);
      api_reply(msg, SOUP_STATUS_CREATED, api_point_json(p));
    } else {
      api_reply_store_error(msg, err);
    }
    dc_point_free(p);
  }
  g_clear_object(&parser);
}

void api_point(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id, bool patch) {
  GError *err = NULL;
  if (patch) {
    if (!api_allowed(msg, k, NEED_OPERATOR))
      return;
    JsonParser *parser = NULL;
    JsonObject *o = api_body_object(msg, &parser);
    const char *name = NULL, *kind = NULL, *profile = NULL, *contact = NULL;
    bool ok = o && api_want_string(msg, o, "name", false, &name) && api_want_string(msg, o, "kind", false, &kind) &&
              api_want_string(msg, o, "link_profile", false, &profile) && api_want_string(msg, o, "contact", false, &contact);
    if (ok && !dc_store_edit_point(srv->store, id, name, kind, profile, contact, &err)) {
      api_reply_store_error(msg, err);
      ok = false;
    }
    g_clear_object(&parser);
    if (!ok)
      return;
  }
  dc_point *p = dc_store_get_point(srv->store, id, &err);
  if (!p)
    return api_reply_store_error(msg, err);
  if (patch)
    api_audit_write(srv, k, "point.edit", "%s (%s, %s) #%" G_GINT64_FORMAT, p->name, p->kind, p->link_profile, p->id);
  api_reply(msg, SOUP_STATUS_OK, api_point_json(p));
  dc_point_free(p);
}

/* POST /api/points/ID/device-key (operator): a new key for the point's unattended endpoint,
 * shown once; it replaces the point's old one. */
void api_device_key(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t point_id) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  char *key = dc_store_new_device_key(srv->store, point_id, &err);
  if (!key)
    return api_reply_store_error(msg, err);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "point_id", point_id);
  put_str(b, "device_key", key);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_CREATED, finish(b));
  memset(key, 0, strlen(key));
  g_free(key);
  api_audit_write(srv, k, "point.device-key", "a new device key for point #%" G_GINT64_FORMAT, point_id);
}

void api_groups(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, bool post) {
  GError *err = NULL;
  if (!post) {
    GPtrArray *all = dc_store_list_groups(srv->store, &err);
    if (!all)
      return api_reply_store_error(msg, err);
    api_reply(msg, SOUP_STATUS_OK, api_array_of(all, (JsonNode * (*)(gconstpointer)) api_group_json));
    g_ptr_array_unref(all);
    return;
  }
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  const char *name;
  if (!o || !api_want_string(msg, o, "name", true, &name)) {
    g_clear_object(&parser);
    return;
  }
  int64_t id = dc_store_add_group(srv->store, name, &err);
  dc_group *g = id ? dc_store_get_group(srv->store, id, &err) : NULL;
  if (g) {
    api_audit_write(srv, k, "group.create", "%s #%" G_GINT64_FORMAT, g->name, g->id);
    api_reply(msg, SOUP_STATUS_CREATED, api_group_json(g));
  } else {
    api_reply_store_error(msg, err);
  }
  dc_group_free(g);
  g_clear_object(&parser);
}

void api_group(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_group *g = dc_store_get_group(srv->store, id, &err);
  if (!g)
    return api_reply_store_error(msg, err);
  api_reply(msg, SOUP_STATUS_OK, api_group_json(g));
  dc_group_free(g);
}

/* PUT / DELETE /api/groups/ID/points/POINT */
void api_group_member(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t group,
                             int64_t point, bool member) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  if (!dc_store_group_set_member(srv->store, group, point, member, &err))
    return api_reply_store_error(msg, err);
  api_audit_write(srv, k, member ? "group.add-point" : "group.remove-point", "point #%" G_GINT64_FORMAT " %s group #%" G_GINT64_FORMAT,
        point, member ? "to" : "from", group);
  api_group(srv, msg, group);
}

/* ---- meetings ---- */

/* The occurrences of a series: the first at starts/ends, then every `days` days at the same
 * wall-clock time in the bridge's zone (a zone with summer time keeps 07:30 at 07:30). */
static void occurrences(dc_server *srv, int64_t starts, int64_t ends, int days, int count, int64_t *s_out,
                        int64_t *e_out) {
  GDateTime *first = g_date_time_new_from_unix_utc(starts);
  GDateTime *local = g_date_time_to_timezone(first, srv->tz);
  for (int i = 0; i < count; i++) {
    GDateTime *t = g_date_time_add_days(local, i * days);
    s_out[i] = g_date_time_to_unix(t);
    e_out[i] = s_out[i] + (ends - starts);
    g_date_time_unref(t);
  }
  g_date_time_unref(local);
  g_date_time_unref(first);
}

/* GET ?from=&to= (Unix seconds): the meetings whose time overlaps; none: all. */
bool api_query_int(SoupServerMessage *msg, GHashTable *query, const char *name, int64_t *out) {
  const char *v = query ? g_hash_table_lookup(query, name) : NULL;
  if (!v)
    return true;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (!*v || *end) {
    char *text = g_strdup_printf("the query's \"%s\" must be a whole number", name);
    api_reply_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid", text);
    g_free(text);
    return false;
  }
  *out = n;
  return true;
}

void api_meetings(dc_server *srv, SoupServerMessage *msg, GHashTable *query, const dc_api_key *k, bool post) {
  GError *err = NULL;
  if (!post) {
    int64_t from = G_MININT64, to = G_MAXINT64;
    if (!api_query_int(msg, query, "from", &from) || !api_query_int(msg, query, "to", &to))
      return;
    GPtrArray *all = dc_store_list_meetings_between(srv->store, from, to, &err);
    if (!all)
      return api_reply_store_error(msg, err);
    api_reply(msg, SOUP_STATUS_OK, api_array_of(all, (JsonNode * (*)(gconstpointer)) api_meeting_json));
    g_ptr_array_unref(all);
    return;
  }
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  const char *title, *every = NULL;
  int64_t starts, ends, host = 0, open_before = -1, count = 1;
  int record = 0;
  JsonNode *repeat = o ? json_object_get_member(o, "repeat") : NULL;
  bool ok = o && api_want_string(msg, o, "title", true, &title) && api_want_int(msg, o, "starts_at", true, &starts) &&
            api_want_int(msg, o, "ends_at", true, &ends) && api_want_int(msg, o, "host_point_id", false, &host) &&
            api_want_int(msg, o, "open_before_s", false, &open_before) && api_want_bool(msg, o, "record", false, &record);
  if (ok && repeat) {
    JsonObject *r = JSON_NODE_HOLDS_OBJECT(repeat) ? json_node_get_object(repeat) : NULL;
    ok = r ? api_want_string(msg, r, "every", true, &every) && api_want_int(msg, r, "count", true, &count)
           : api_bad_member(msg, "repeat", "an object {\"every\": \"day\" or \"week\", \"count\": 1-104}");
    if (ok && ((strcmp(every, "day") && strcmp(every, "week")) || count < 1 || count > MAX_OCCURRENCES))
      ok = api_bad_member(msg, "repeat", "an object {\"every\": \"day\" or \"week\", \"count\": 1-104}");
  }
  if (ok && open_before < -1)
    ok = api_bad_member(msg, "open_before_s", "0-86400 seconds");
  if (ok && !dc_meeting_times_valid(starts, ends)) /* before the calendar sums below */
    ok = api_bad_member(msg, starts < 0 || starts > DC_MEETING_TIME_MAX ? "starts_at" : "ends_at",
                    "Unix seconds between 1970 and the year 3000");
  if (!ok) {
    g_clear_object(&parser);
    return;
  }
  int64_t *s_at = g_new(int64_t, count), *e_at = g_new(int64_t, count);
  occurrences(srv, starts, ends, every && !strcmp(every, "day") ? 1 : 7, (int)count, s_at, e_at);
  int64_t id = dc_store_create_series(srv->store, title, s_at, e_at, (int)count, host, open_before, &err);
  g_free(s_at);
  g_free(e_at);
  if (id && record && !dc_store_set_meeting_record(srv->store, id, true, true, &err))
    id = 0;
  dc_meeting *m = id ? dc_store_get_meeting(srv->store, id, &err) : NULL;
  if (m) {
    api_audit_write(srv, k, "meeting.create", "%s #%" G_GINT64_FORMAT "%s", m->title, m->id,
          count > 1 ? (!strcmp(every, "day") ? " (daily series)" : " (weekly series)") : "");
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    api_meeting_members(b, m, now_s());
    put_int(b, "occurrences", count);
    json_builder_end_object(b);
    api_reply(msg, SOUP_STATUS_CREATED, finish(b));
  } else {
    api_reply_store_error(msg, err);
  }
  dc_meeting_free(m);
  g_clear_object(&parser);
}

/* GET /api/meetings/ID: the meeting with its invitations and their links. */
void api_meeting(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *invs = m ? dc_store_list_invitations(srv->store, id, &err) : NULL;
  if (!invs) {
    dc_meeting_free(m);
    return api_reply_store_error(msg, err);
  }
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  api_meeting_members(b, m, now_s());
  json_builder_set_member_name(b, "invitations");
  json_builder_begin_array(b);
  for (guint i = 0; i < invs->len; i++) {
    dc_invitation *inv = invs->pdata[i];
    dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
    json_builder_add_value(b, api_invitation_json(srv, inv, p, false));
    dc_point_free(p);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, finish(b));
  g_ptr_array_unref(invs);
  dc_meeting_free(m);
}

/* PATCH /api/meetings/ID: title, times, open window. Those already in it stay; a meeting
 * moved later keeps its links good for as long after its new end. */
void api_edit_meeting(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  const char *title = NULL;
  int64_t starts = 0, ends = 0, open_before = -1;
  int record = -1;
  bool ok = o && api_want_string(msg, o, "title", false, &title) && api_want_int(msg, o, "starts_at", false, &starts) &&
            api_want_int(msg, o, "ends_at", false, &ends) && api_want_int(msg, o, "open_before_s", false, &open_before) &&
            api_want_bool(msg, o, "record", false, &record);
  if (ok && open_before < -1)
    ok = api_bad_member(msg, "open_before_s", "0-86400 seconds");
  if (ok && !dc_store_edit_meeting(srv->store, id, title, starts, ends, open_before, now_s(), &err)) {
    api_reply_store_error(msg, err);
    ok = false;
  }
  /* after the edit, which checked the meeting: the mark cannot fail on its own then */
  if (ok && record >= 0 && !dc_store_set_meeting_record(srv->store, id, record, false, &err)) {
    api_reply_store_error(msg, err);
    ok = false;
  }
  g_clear_object(&parser);
  if (!ok)
    return;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, NULL);
  if (m)
    api_audit_write(srv, k, "meeting.edit", "%s #%" G_GINT64_FORMAT, m->title, m->id);
  dc_meeting_free(m);
  api_meeting(srv, msg, id);
}

void api_reply_done(SoupServerMessage *msg, const char *what, int64_t id, int removed) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, what, id);
  put_int(b, "disconnected", removed);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, finish(b));
}

/* POST /api/meetings/ID/end or /cancel: over for everyone, now. */
void api_end(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id, bool cancel) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  if (!(cancel ? dc_store_cancel_meeting : dc_store_end_meeting)(srv->store, id, now_s(), &err))
    return api_reply_store_error(msg, err);
  int removed = dc_server_remove_sessions(srv, id, 0, cancel ? DC_ERR_CODE_MEETING_CANCELLED : DC_ERR_CODE_MEETING_ENDED,
                                          cancel ? "the operator cancelled this meeting" : "the operator ended this meeting");
  api_audit_write(srv, k, cancel ? "meeting.cancel" : "meeting.end", "#%" G_GINT64_FORMAT "; %d participant(s) disconnected", id, removed);
  if (!cancel) /* the minutes say who ended it */
    dc_chair_log(srv, id, "ended", NULL, k->name);
  api_reply_done(msg, cancel ? "cancelled_meeting" : "ended_meeting", id, removed);
}

/* POST /api/meetings/ID/invitations: {"point_id"} one point, or {"group_id"} each point of a
 * group not invited yet, in one step. */
void api_invite(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t meeting_id) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  const char *role = "participant";
  int64_t point = 0, group = 0, expires = 0;
  if (!o || !api_want_int(msg, o, "point_id", false, &point) || !api_want_int(msg, o, "group_id", false, &group) ||
      !api_want_int(msg, o, "expires_at", false, &expires) || !api_want_string(msg, o, "role", false, &role) ||
      (!point == !group && !api_bad_member(msg, "point_id", "given, or else \"group_id\" (one of the two)"))) {
    g_clear_object(&parser);
    return;
  }
  dc_meeting *m = dc_store_get_meeting(srv->store, meeting_id, &err);
  const char *state = m ? dc_meeting_state(m, now_s()) : NULL;
  if (m && (!strcmp(state, "ended") || !strcmp(state, "cancelled"))) {
    char *text = g_strdup_printf("meeting %" G_GINT64_FORMAT " has %s: nobody can be invited to it", meeting_id,
                                 !strcmp(state, "ended") ? "ended" : "been cancelled");
    api_reply_error(msg, SOUP_STATUS_CONFLICT, "meeting-over", text);
    g_free(text);
  } else if (m) {
    if (!expires)
      expires = m->ends_at + DC_MEETING_GRACE_S; /* as long as the meeting may run */
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    int64_t one = point ? dc_store_create_invitation(srv->store, meeting_id, point, role, expires, &err) : 0;
    if (one)
      g_array_append_val(ids, one);
    if ((point && !one) || (group && !dc_store_invite_group(srv->store, meeting_id, group, role, expires, ids, &err))) {
      api_reply_store_error(msg, err);
    } else {
      JsonArray *a = json_array_new();
      for (guint i = 0; i < ids->len; i++) {
        dc_invitation *inv = dc_store_get_invitation(srv->store, g_array_index(ids, int64_t, i), NULL);
        dc_point *p = inv ? dc_store_get_point(srv->store, inv->point_id, NULL) : NULL;
        if (inv)
          json_array_add_element(a, api_invitation_json(srv, inv, p, true));
        dc_point_free(p);
        dc_invitation_free(inv);
      }
      api_audit_write(srv, k, "meeting.invite", "%s%" G_GINT64_FORMAT " to %s #%" G_GINT64_FORMAT " as %s: %u invitation(s)",
            point ? "point #" : "group #", point ? point : group, m->title, m->id, role, ids->len);
      if (point) { /* one point: the invitation itself, as before groups */
        JsonNode *first = json_array_get_element(a, 0);
        api_reply(msg, SOUP_STATUS_CREATED, json_node_copy(first));
        json_array_unref(a);
      } else {
        JsonBuilder *b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "invitations");
        JsonNode *n = json_node_new(JSON_NODE_ARRAY);
        json_node_take_array(n, a);
        json_builder_add_value(b, n);
        json_builder_end_object(b);
        api_reply(msg, SOUP_STATUS_CREATED, finish(b));
      }
    }
    g_array_unref(ids);
  } else {
    api_reply_store_error(msg, err);
    err = NULL;
  }
  dc_meeting_free(m);
  g_clear_object(&parser);
}

/* POST /api/invitations/ID/revoke: no join with it from now on, and whoever is in the meeting
 * with it is put out at once. */
void api_revoke(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  GError *err = NULL;
  dc_invitation *inv = dc_store_get_invitation(srv->store, id, &err);
  if (!inv || !dc_store_revoke_invitation(srv->store, id, &err)) {
    dc_invitation_free(inv);
    return api_reply_store_error(msg, err);
  }
  int removed = dc_server_remove_sessions(srv, inv->meeting_id, id, DC_ERR_CODE_REVOKED,
                                          "the operator withdrew this invitation link");
  api_audit_write(srv, k, "invitation.revoke", "#%" G_GINT64_FORMAT " of meeting #%" G_GINT64_FORMAT "; %d participant(s) disconnected",
        id, inv->meeting_id, removed);
  api_reply_done(msg, "revoked_invitation", id, removed);
  dc_invitation_free(inv);
}

/* ---- the live view ---- */

static void link_json(JsonBuilder *b, session *s) {
  dc_link_stats st;
  dc_participant_link_stats(s->participant, &st);
  json_builder_set_member_name(b, "link");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "rtt_ms");
  if (st.rtt_ms < 0)
    json_builder_add_null_value(b);
  else
    json_builder_add_int_value(b, st.rtt_ms);
  put_double(b, "loss_down_pct", st.loss_down_pct);
  put_double(b, "loss_up_pct", st.loss_up_pct);
  put_int(b, "kbps_down", st.kbps_down);
  put_int(b, "kbps_up", st.kbps_up);
  put_int(b, "estimate_kbps", st.estimate_kbps);
  put_double(b, "audio_loss_pct", st.audio_loss_pct);
  put_opt_int(b, "video_source", st.main_source);
  put_str(b, "video_layer", st.main_layer);
  put_bool(b, "video_off", st.main_off);
  json_builder_end_object(b);
}

/* GET /api/meetings/ID/live: every invited point, expected, connected or missing, with each
 * of its participants' links; and who speaks. */
void api_live(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *invs = m ? dc_store_list_invitations(srv->store, id, &err) : NULL;
  if (!invs) {
    dc_meeting_free(m);
    return api_reply_store_error(msg, err);
  }
  int64_t now = now_s();
  const int64_t *speaker = g_hash_table_lookup(srv->speakers, &id);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "meeting");
  json_builder_add_value(b, api_meeting_json(m));
  put_int(b, "now", now);
  put_opt_int(b, "speaker", speaker ? *speaker : 0);
  /* the bridge short of time affects every meeting: the operator should hear of it here */
  dc_mix_state mix = dc_bridge_mix_state(srv->bridge);
  json_builder_set_member_name(b, "bridge");
  json_builder_begin_object(b);
  put_int(b, "mix_clock_pct", mix.clock_pct);
  put_str(b, "audio_effort", mix.reduced_effort ? "reduced" : "full");
  put_bool(b, "mix_late", mix.late);
  json_builder_end_object(b);
  json_builder_set_member_name(b, "points");
  json_builder_begin_array(b);
  GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal); /* a point invited twice shows once */
  for (guint i = 0; i < invs->len; i++) {
    dc_invitation *inv = invs->pdata[i];
    bool in_use = false; /* a withdrawn invitation shows only while someone is still in with it */
    for (GList *l = srv->sessions; l && inv->revoked; l = l->next)
      in_use |= ((session *)l->data)->participant && ((session *)l->data)->invitation == inv->id;
    if (g_hash_table_contains(seen, &inv->point_id) || (inv->revoked && !in_use))
      continue;
    g_hash_table_add(seen, &inv->point_id);
    dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
    json_builder_begin_object(b);
    put_int(b, "point_id", inv->point_id);
    put_str(b, "name", p ? p->name : "");
    put_str(b, "kind", p ? p->kind : "");
    put_str(b, "link_profile", p ? p->link_profile : "");
    put_str(b, "contact", p ? p->contact : "");
    put_str(b, "role", inv->role);
    json_builder_set_member_name(b, "participants");
    json_builder_begin_array(b);
    bool any = false, up = false;
    for (GList *l = g_list_last(srv->sessions); l; l = l->prev) { /* oldest first */
      session *s = l->data;
      if (!s->participant || s->meeting != id || s->point_id != inv->point_id)
        continue;
      any = true;
      up |= s->connected;
      json_builder_begin_object(b);
      put_int(b, "id", s->id);
      put_str(b, "name", s->name);
      put_int(b, "joined_at", s->joined_at);
      put_bool(b, "media", s->connected);
      put_bool(b, "muted", s->muted);
      put_bool(b, "speaking", speaker && *speaker == s->id);
      link_json(b, s);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    bool coming_back = false;
    for (GList *l = srv->ghosts; l && !any; l = l->next)
      coming_back |= ((ghost *)l->data)->meeting == id && ((ghost *)l->data)->point_id == inv->point_id;
    put_str(b, "status", up ? "connected" : any ? "joining" : coming_back ? "reconnecting" : "missing");
    json_builder_end_object(b);
    dc_point_free(p);
  }
  g_hash_table_unref(seen);
  json_builder_end_array(b);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, finish(b));
  g_ptr_array_unref(invs);
  dc_meeting_free(m);
}

/* GET /api/meetings/ID/events: the meeting's log, to the millisecond: joins and leaves, who
 * the mixer heard speak, mutes, the chair's actions, recordings. The minutes are made from it. */
void api_events(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  GPtrArray *events = m ? dc_store_list_events(srv->store, id, &err) : NULL;
  dc_meeting_free(m);
  if (!events)
    return api_reply_store_error(msg, err);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < events->len; i++) {
    dc_meeting_event *e = events->pdata[i];
    json_builder_begin_object(b);
    put_int(b, "at_ms", e->at_ms);
    put_str(b, "kind", e->kind);
    put_str(b, "point", e->point);
    put_str(b, "name", e->name);
    put_str(b, "detail", e->detail);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  api_reply(msg, SOUP_STATUS_OK, finish(b));
  g_ptr_array_unref(events);
}

/* ---- recordings ---- */

/* POST /api/meetings/ID/recording {"recording": true|false}: start or stop it. */
void api_record(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id) {
  if (!api_allowed(msg, k, NEED_OPERATOR))
    return;
  JsonParser *parser = NULL;
  JsonObject *o = api_body_object(msg, &parser);
  int on = 0;
  bool ok = o && api_want_bool(msg, o, "recording", true, &on);
  g_clear_object(&parser);
  if (!ok)
    return;
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  if (!m)
    return api_reply_store_error(msg, err);
  bool open = dc_meeting_joinable(m, now_s());
  dc_meeting_free(m);
  if (on && !open) {
    api_reply_error(msg, SOUP_STATUS_CONFLICT, "meeting-not-open", "only a meeting that is open can be recorded");
    return;
  }
  char *by = g_strdup_printf("key %s", k->name);
  if (!dc_recording_set(srv, id, on, by, &err)) {
    bool conflict = err->domain == G_FILE_ERROR && (err->code == G_FILE_ERROR_EXIST || err->code == G_FILE_ERROR_NOENT);
    if (!conflict)
      g_warning("meeting %" G_GINT64_FORMAT ": recording: %s", id, err->message);
    api_reply_error(msg, conflict ? SOUP_STATUS_CONFLICT : SOUP_STATUS_INTERNAL_SERVER_ERROR,
                conflict ? (on ? "recording-already" : "not-recording") : "recording-failed", err->message);
    g_error_free(err);
  } else {
    api_audit_write(srv, k, on ? "meeting.record" : "meeting.record_stop", "#%" G_GINT64_FORMAT, id);
    api_recordings(srv, msg, id);
  }
  g_free(by);
}

/* GET /api/meetings/ID/recordings: whether it records now, why the last one stopped by
 * itself, and its files. */
void api_recordings(dc_server *srv, SoupServerMessage *msg, int64_t id) {
  GError *err = NULL;
  dc_meeting *m = dc_store_get_meeting(srv->store, id, &err);
  if (!m)
    return api_reply_store_error(msg, err);
  dc_meeting_free(m);
  dc_roster_meeting state = {0};
  dc_recording_fill_roster(srv, id, &state);
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  put_int(b, "meeting_id", id);
  put_bool(b, "recording", state.recording);
  if (state.recording_error)
    put_str(b, "error", state.recording_error);
  json_builder_set_member_name(b, "files");
  json_builder_begin_array(b);
  GPtrArray *names = dc_recording_list(srv, id);
  char *dir = dc_recording_dir(srv, id);
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    char *path = g_build_filename(dir, name, NULL);
    GStatBuf st;
    if (g_stat(path, &st) == 0) {
      json_builder_begin_object(b);
      put_str(b, "name", name);
      put_str(b, "kind", g_str_has_suffix(name, ".opus") ? "audio" : "video");
      put_str(b, "content_type", g_str_has_suffix(name, ".opus") ? "audio/ogg" : "video/webm");
      put_int(b, "bytes", (int64_t)st.st_size);
      put_int(b, "modified_at", (int64_t)st.st_mtime);
      int64_t started = dc_recording_started_at_ms(srv, id, name);
      if (started)
        put_int(b, "started_at_ms", started);
      char *url = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/recordings/%s", id, name);
      put_str(b, "url", url);
      g_free(url);
      json_builder_end_object(b);
    }
    g_free(path);
  }
  g_free(dir);
  g_ptr_array_unref(names);
  json_builder_end_array(b);
  json_builder_end_object(b);
  api_reply(msg, SOUP_STATUS_OK, finish(b));
}

/* GET /api/meetings/ID/recordings/NAME: the file, mapped rather than read (hours of video). */
void api_recording_file(dc_server *srv, SoupServerMessage *msg, const dc_api_key *k, int64_t id,
                               const char *name) {
  if (!dc_recording_name_ok(name)) {
    api_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such recording");
    return;
  }
  char *dir = dc_recording_dir(srv, id), *path = g_build_filename(dir, name, NULL);
  GMappedFile *f = g_mapped_file_new(path, FALSE, NULL);
  if (!f) {
    api_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such recording");
  } else {
    GBytes *bytes = g_mapped_file_get_bytes(f);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    char *disposition = g_strdup_printf("attachment; filename=\"meeting-%" G_GINT64_FORMAT "-%s\"", id, name);
    soup_message_headers_replace(h, "Content-Disposition", disposition);
    soup_message_headers_replace(h, "Cache-Control", "no-store");
    soup_message_headers_set_content_type(h, g_str_has_suffix(name, ".opus") ? "audio/ogg" : "video/webm", NULL);
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    if (g_bytes_get_size(bytes)) /* a recording nothing reached is an empty file */
      soup_message_body_append_bytes(soup_server_message_get_response_body(msg), bytes);
    g_bytes_unref(bytes);
    g_mapped_file_unref(f);
    g_free(disposition);
    api_audit_write(srv, k, "recording.download", "#%" G_GINT64_FORMAT " %s", id, name);
  }
  g_free(path);
  g_free(dir);
}
