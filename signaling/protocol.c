/* protocol.c — signaling message parsing and writing; see protocol.h and PROTOCOL.md. */
#include "signaling/protocol.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  const char *code;
  char *message;
} failure;

static bool fail(failure *f, const char *code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool fail(failure *f, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  f->code = code;
  f->message = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  return false;
}

/* A string member: required or not, with a length limit. */
static bool get_string(JsonObject *o, const char *name, bool required, size_t max, char **out,
                       failure *f) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || JSON_NODE_HOLDS_NULL(n)) {
    if (required)
      return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"%s\" is required", name);
    *out = NULL;
    return true;
  }
  if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"%s\" must be a string", name);
  const char *s = json_node_get_string(n);
  if (strlen(s) > max)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"%s\" is longer than %zu characters", name, max);
  *out = g_strdup(s);
  return true;
}

static bool get_int(JsonObject *o, const char *name, int64_t min, int64_t max, int64_t *out,
                    failure *f) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"%s\" must be a whole number", name);
  int64_t v = json_node_get_int(n);
  if (v < min || v > max)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"%s\" must be between %" G_GINT64_FORMAT
                " and %" G_GINT64_FORMAT, name, min, max);
  *out = v;
  return true;
}

static bool parse_join(JsonObject *o, dc_client_msg *m, failure *f) {
  int64_t slots = 3;
  if (!get_int(o, "meeting", 1, G_MAXINT64, &m->meeting, f) ||
      !get_string(o, "token", true, 256, &m->token, f) ||
      !get_string(o, "name", true, 80, &m->name, f) ||
      !get_string(o, "profile", false, 16, &m->profile, f))
    return false;
  if (json_object_has_member(o, "slots") &&
      !get_int(o, "slots", 1, DC_PROTOCOL_MAX_SLOTS, &slots, f))
    return false;
  m->slots = (int)slots;
  JsonNode *changes = json_object_get_member(o, "roster_changes"); /* absent from older clients */
  if (changes && (!JSON_NODE_HOLDS_VALUE(changes) || json_node_get_value_type(changes) != G_TYPE_BOOLEAN))
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"roster_changes\" must be true or false");
  m->roster_changes = changes && json_node_get_boolean(changes);
  int64_t wait = 0; /* absent from browsers and older endpoints */
  if (json_object_has_member(o, "audio_wait_ms") &&
      !get_int(o, "audio_wait_ms", 0, DC_PROTOCOL_MAX_AUDIO_WAIT_MS, &wait, f))
    return false;
  m->audio_wait_ms = (int)wait;
  if (!*g_strstrip(m->name))
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"name\" must not be empty");
  if (!g_utf8_validate(m->name, -1, NULL))
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"name\" must be UTF-8");
  /* A newline or escape in a name would forge log lines and confuse every roster. */
  for (const char *c = m->name; *c; c = g_utf8_next_char(c))
    if (g_unichar_iscntrl(g_utf8_get_char(c)))
      return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"name\" must not hold control characters");
  if (!m->profile)
    m->profile = g_strdup("standard");
  if (strcmp(m->profile, "hall") && strcmp(m->profile, "standard") && strcmp(m->profile, "highland"))
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"profile\" must be hall, standard or highland");
  return true;
}

/* One frame as a JSON object (kept alive by *parser, which the caller unrefs), or NULL with
 * *f saying why: too large, not UTF-8, not JSON, not an object. */
static JsonObject *load_object(const char *text, size_t len, size_t max, JsonParser **parser, failure *f) {
  *parser = NULL;
  if (len > max) {
    fail(f, DC_ERR_CODE_TOO_LARGE, "messages are limited to %zu bytes", max);
    return NULL;
  }
  if (!g_utf8_validate(text, (gssize)len, NULL) || memchr(text, '\0', len)) {
    fail(f, DC_ERR_CODE_BAD_MESSAGE, "a message must be UTF-8 JSON text");
    return NULL;
  }
  *parser = json_parser_new_immutable();
  GError *err = NULL;
  if (!json_parser_load_from_data(*parser, text, (gssize)len, &err)) {
    fail(f, DC_ERR_CODE_BAD_MESSAGE, "not JSON: %s", err->message);
    g_error_free(err);
    return NULL;
  }
  JsonNode *root = json_parser_get_root(*parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    fail(f, DC_ERR_CODE_BAD_MESSAGE, "a message must be a JSON object");
    return NULL;
  }
  return json_node_get_object(root);
}

static bool get_bool(JsonObject *o, const char *name, bool *out, failure *f); /* a required boolean */

bool dc_protocol_parse(const char *text, size_t len, dc_client_msg *m, const char **code,
                       char **message) {
  memset(m, 0, sizeof *m);
  failure f = {0};
  bool ok = false;
  JsonParser *parser = NULL;
  JsonObject *o = load_object(text, len, DC_PROTOCOL_MAX_MESSAGE, &parser, &f);
  if (!o)
    goto out;
  int64_t v;
  if (!get_int(o, "v", 0, G_MAXINT32, &v, &f))
    goto out;
  if (v != DC_PROTOCOL_VERSION) {
    fail(&f, DC_ERR_CODE_UNSUPPORTED_VERSION, "this bridge speaks version %d, not %" G_GINT64_FORMAT,
         DC_PROTOCOL_VERSION, v);
    goto out;
  }
  char *type = NULL;
  if (!get_string(o, "type", true, 32, &type, &f))
    goto out;
  if (!strcmp(type, "join")) {
    m->type = DC_MSG_JOIN;
    ok = parse_join(o, m, &f);
  } else if (!strcmp(type, "offer")) {
    m->type = DC_MSG_OFFER;
    ok = get_string(o, "sdp", true, DC_PROTOCOL_MAX_MESSAGE, &m->sdp, &f);
  } else if (!strcmp(type, "candidate")) {
    m->type = DC_MSG_CANDIDATE;
    ok = get_string(o, "candidate", true, 512, &m->candidate, &f) &&
         get_string(o, "mid", false, 32, &m->mid, &f);
  } else if (!strcmp(type, "mute")) {
    m->type = DC_MSG_MUTE;
    JsonNode *n = json_object_get_member(o, "audio");
    ok = n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN;
    if (ok)
      m->audio_muted = json_node_get_boolean(n);
    else
      fail(&f, DC_ERR_CODE_BAD_MESSAGE, "\"audio\" must be true or false");
  } else if (!strcmp(type, "leave")) {
    m->type = DC_MSG_LEAVE;
    ok = true;
  } else if (!strcmp(type, "pin")) {
    m->type = DC_MSG_PIN;
    ok = get_int(o, "participant", 1, G_MAXINT64, &m->participant, &f);
  } else if (!strcmp(type, "unpin")) {
    m->type = DC_MSG_UNPIN;
    ok = true;
  } else if (!strcmp(type, "hand")) {
    m->type = DC_MSG_HAND;
    ok = get_bool(o, "raised", &m->raised, &f);
  } else if (!strcmp(type, "audio_wait")) {
    m->type = DC_MSG_AUDIO_WAIT;
    int64_t wait = 0;
    ok = get_int(o, "audio_wait_ms", 0, DC_PROTOCOL_MAX_AUDIO_WAIT_MS, &wait, &f);
    m->audio_wait_ms = (int)wait;
  } else if (!strcmp(type, "host_mute")) {
    m->type = DC_MSG_HOST_MUTE;
    ok = get_int(o, "participant", 1, G_MAXINT64, &m->participant, &f) && get_bool(o, "muted", &m->audio_muted, &f);
  } else if (!strcmp(type, "mute_all")) {
    m->type = DC_MSG_MUTE_ALL;
    ok = get_bool(o, "muted", &m->audio_muted, &f);
  } else if (!strcmp(type, "give_floor")) {
    m->type = DC_MSG_GIVE_FLOOR;
    ok = get_int(o, "participant", 1, G_MAXINT64, &m->participant, &f);
  } else if (!strcmp(type, "take_floor")) {
    m->type = DC_MSG_TAKE_FLOOR;
    ok = true;
  } else if (!strcmp(type, "remove")) {
    m->type = DC_MSG_REMOVE;
    ok = get_int(o, "participant", 1, G_MAXINT64, &m->participant, &f);
  } else if (!strcmp(type, "readmit")) {
    m->type = DC_MSG_READMIT;
    ok = get_int(o, "invitation", 1, G_MAXINT64, &m->invitation, &f);
  } else if (!strcmp(type, "lock")) {
    m->type = DC_MSG_LOCK;
    ok = get_bool(o, "locked", &m->locked, &f);
  } else if (!strcmp(type, "end_meeting")) {
    m->type = DC_MSG_END_MEETING;
    ok = true;
  } else if (!strcmp(type, "record")) {
    m->type = DC_MSG_RECORD;
    ok = get_bool(o, "recording", &m->recording, &f);
  } else {
    fail(&f, DC_ERR_CODE_UNKNOWN_TYPE, "unknown message type \"%.32s\"", type);
  }
  g_free(type);
out:
  if (parser)
    g_object_unref(parser);
  if (!ok) {
    dc_client_msg_clear(m);
    *code = f.code;
    *message = f.message;
  }
  return ok;
}

void dc_client_msg_clear(dc_client_msg *m) {
  g_free(m->token);
  g_free(m->name);
  g_free(m->profile);
  g_free(m->sdp);
  g_free(m->candidate);
  g_free(m->mid);
  memset(m, 0, sizeof *m);
}

/* ---- writers ---- */

static JsonBuilder *begin(const char *type) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "v");
  json_builder_add_int_value(b, DC_PROTOCOL_VERSION);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, type);
  return b;
}

static char *finish(JsonBuilder *b) {
  json_builder_end_object(b);
  JsonNode *root = json_builder_get_root(b);
  char *text = json_to_string(root, FALSE);
  json_node_unref(root);
  g_object_unref(b);
  return text;
}

static void add_string(JsonBuilder *b, const char *name, const char *value) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, value);
}

char *dc_protocol_error(const char *code, const char *message) {
  JsonBuilder *b = begin("error");
  add_string(b, "code", code);
  add_string(b, "message", message);
  return finish(b);
}

char *dc_protocol_joined(int64_t participant, const char *point, const char *role, const dc_ice_server *ice,
                         size_t n_ice) {
  JsonBuilder *b = begin("joined");
  json_builder_set_member_name(b, "participant");
  json_builder_add_int_value(b, participant);
  add_string(b, "point", point);
  add_string(b, "role", role);
  json_builder_set_member_name(b, "ice_servers"); /* RTCConfiguration.iceServers, as is */
  json_builder_begin_array(b);
  for (size_t i = 0; i < n_ice; i++) {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "urls");
    json_builder_begin_array(b);
    for (char **u = ice[i].urls; u && *u; u++)
      json_builder_add_string_value(b, *u);
    json_builder_end_array(b);
    if (ice[i].username) {
      add_string(b, "username", ice[i].username);
      add_string(b, "credential", ice[i].credential);
    }
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  return finish(b);
}

char *dc_protocol_answer(const char *sdp) {
  JsonBuilder *b = begin("answer");
  add_string(b, "sdp", sdp);
  return finish(b);
}

char *dc_protocol_candidate(const char *candidate, const char *mid) {
  JsonBuilder *b = begin("candidate");
  add_string(b, "candidate", candidate);
  if (mid)
    add_string(b, "mid", mid);
  return finish(b);
}

static void add_bool(JsonBuilder *b, const char *name, bool value) {
  json_builder_set_member_name(b, name);
  json_builder_add_boolean_value(b, value);
}

static void add_roster_meeting(JsonBuilder *b, const dc_roster_meeting *meeting) {
  add_bool(b, "locked", meeting && meeting->locked);
  add_bool(b, "recording", meeting && meeting->recording);
  if (meeting && meeting->recording_error)
    add_string(b, "recording_error", meeting->recording_error);
  json_builder_set_member_name(b, "removed");
  json_builder_begin_array(b);
  for (size_t i = 0; meeting && i < meeting->n_removed; i++) {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "invitation");
    json_builder_add_int_value(b, meeting->removed[i].invitation);
    add_string(b, "point", meeting->removed[i].point);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

static void add_roster_entries(JsonBuilder *b, const dc_roster_entry *e, size_t n) {
  json_builder_set_member_name(b, "participants");
  json_builder_begin_array(b);
  for (size_t i = 0; i < n; i++) {
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "participant");
    json_builder_add_int_value(b, e[i].participant);
    add_string(b, "name", e[i].name);
    add_string(b, "point", e[i].point);
    add_string(b, "role", e[i].role);
    add_bool(b, "muted", e[i].muted);
    add_bool(b, "connected", e[i].connected);
    add_bool(b, "host_muted", e[i].host_muted);
    json_builder_set_member_name(b, "hand");
    json_builder_add_int_value(b, e[i].hand);
    add_bool(b, "floor", e[i].floor);
    add_bool(b, "reconnecting", e[i].reconnecting);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

char *dc_protocol_roster(const dc_roster_entry *e, size_t n, const dc_roster_meeting *meeting) {
  JsonBuilder *b = begin("roster");
  add_roster_meeting(b, meeting);
  add_roster_entries(b, e, n);
  return finish(b);
}

char *dc_protocol_roster_changes(const dc_roster_entry *changed, size_t n, const int64_t *left, size_t n_left,
                                 const dc_roster_meeting *meeting) {
  JsonBuilder *b = begin("roster_changes");
  add_roster_meeting(b, meeting);
  add_roster_entries(b, changed, n);
  json_builder_set_member_name(b, "left");
  json_builder_begin_array(b);
  for (size_t i = 0; i < n_left; i++)
    json_builder_add_int_value(b, left[i]);
  json_builder_end_array(b);
  return finish(b);
}

char *dc_protocol_speaker(int64_t participant) {
  JsonBuilder *b = begin("speaker");
  json_builder_set_member_name(b, "participant");
  json_builder_add_int_value(b, participant);
  return finish(b);
}

char *dc_protocol_audio_rate(unsigned max_bitrate) {
  JsonBuilder *b = begin("audio-rate");
  json_builder_set_member_name(b, "max_bitrate");
  json_builder_add_int_value(b, max_bitrate);
  return finish(b);
}

char *dc_protocol_slots(const int64_t *sources, int n) {
  JsonBuilder *b = begin("slots");
  json_builder_set_member_name(b, "slots");
  json_builder_begin_array(b);
  for (int i = 0; i < n; i++)
    json_builder_add_int_value(b, sources[i]);
  json_builder_end_array(b);
  return finish(b);
}

/* ---- the client's side ---- */

char *dc_protocol_join(int64_t meeting, const char *token, const char *name, const char *profile,
                       int slots, int audio_wait_ms) {
  JsonBuilder *b = begin("join");
  json_builder_set_member_name(b, "meeting");
  json_builder_add_int_value(b, meeting);
  add_string(b, "token", token);
  add_string(b, "name", name);
  add_string(b, "profile", profile);
  json_builder_set_member_name(b, "slots");
  json_builder_add_int_value(b, slots);
  add_bool(b, "roster_changes", true);
  if (audio_wait_ms > 0) {
    json_builder_set_member_name(b, "audio_wait_ms");
    json_builder_add_int_value(b, audio_wait_ms);
  }
  return finish(b);
}

char *dc_protocol_offer(const char *sdp) {
  JsonBuilder *b = begin("offer");
  add_string(b, "sdp", sdp);
  return finish(b);
}

char *dc_protocol_mute(bool audio_muted) {
  JsonBuilder *b = begin("mute");
  json_builder_set_member_name(b, "audio");
  json_builder_add_boolean_value(b, audio_muted);
  return finish(b);
}

char *dc_protocol_leave(void) { return finish(begin("leave")); }

char *dc_protocol_audio_wait(int audio_wait_ms) {
  JsonBuilder *b = begin("audio_wait");
  json_builder_set_member_name(b, "audio_wait_ms");
  json_builder_add_int_value(b, CLAMP(audio_wait_ms, 0, DC_PROTOCOL_MAX_AUDIO_WAIT_MS));
  return finish(b);
}

char *dc_protocol_pin(int64_t participant) {
  if (participant <= 0)
    return finish(begin("unpin"));
  JsonBuilder *b = begin("pin");
  json_builder_set_member_name(b, "participant");
  json_builder_add_int_value(b, participant);
  return finish(b);
}

static bool get_bool(JsonObject *o, const char *name, bool *out, failure *f) {
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"%s\" must be true or false", name);
  *out = json_node_get_boolean(n);
  return true;
}

/* A member a bridge older than it does not send: absent means the default. */
static bool get_optional_bool(JsonObject *o, const char *name, bool absent, bool *out, failure *f) {
  *out = absent;
  return !json_object_has_member(o, name) || get_bool(o, name, out, f);
}

static bool parse_roster_entries(JsonObject *o, dc_server_msg *m, failure *f) {
  JsonNode *n = json_object_get_member(o, "participants");
  if (!n || !JSON_NODE_HOLDS_ARRAY(n))
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"participants\" must be a list");
  JsonArray *a = json_node_get_array(n);
  guint len = json_array_get_length(a);
  if (len > DC_PROTOCOL_MAX_ROSTER)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "a roster of more than %d", DC_PROTOCOL_MAX_ROSTER);
  JsonNode *rec = json_object_get_member(o, "recording"); /* absent from older bridges */
  m->recording = rec && JSON_NODE_HOLDS_VALUE(rec) && json_node_get_value_type(rec) == G_TYPE_BOOLEAN &&
                 json_node_get_boolean(rec);
  m->roster = g_new0(dc_roster_entry, MAX(len, 1));
  for (guint i = 0; i < len; i++) {
    JsonNode *en = json_array_get_element(a, i);
    if (!JSON_NODE_HOLDS_OBJECT(en))
      return fail(f, DC_ERR_CODE_BAD_MESSAGE, "a roster entry must be an object");
    JsonObject *e = json_node_get_object(en);
    dc_roster_entry *r = &m->roster[m->n_roster++];
    char *name = NULL, *point = NULL, *role = NULL;
    int64_t hand = 0;
    bool ok = get_int(e, "participant", 1, G_MAXINT64, &r->participant, f) &&
              get_string(e, "name", true, 320, &name, f) &&
              get_string(e, "point", true, 320, &point, f) &&
              get_string(e, "role", true, 32, &role, f);
    r->name = name, r->point = point, r->role = role;
    if (!ok || !get_bool(e, "muted", &r->muted, f) ||
        !get_optional_bool(e, "connected", true, &r->connected, f) || /* older: connected */
        !get_optional_bool(e, "host_muted", false, &r->host_muted, f) ||
        !get_optional_bool(e, "floor", false, &r->floor, f) ||
        !get_optional_bool(e, "reconnecting", false, &r->reconnecting, f) ||
        (json_object_has_member(e, "hand") && !get_int(e, "hand", 0, G_MAXINT32, &hand, f)))
      return false;
    r->hand = (int)hand;
  }
  return true;
}

static bool parse_roster_left(JsonObject *o, dc_server_msg *m, failure *f) {
  JsonNode *n = json_object_get_member(o, "left");
  if (!n || !JSON_NODE_HOLDS_ARRAY(n))
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"left\" must be a list");
  JsonArray *a = json_node_get_array(n);
  guint len = json_array_get_length(a);
  if (len > DC_PROTOCOL_MAX_ROSTER)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "more than %d left at once", DC_PROTOCOL_MAX_ROSTER);
  m->left = g_new0(int64_t, MAX(len, 1));
  for (guint i = 0; i < len; i++) {
    JsonNode *e = json_array_get_element(a, i);
    if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_INT64 || json_node_get_int(e) < 1)
      return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"left\" must hold participant ids");
    m->left[m->n_left++] = json_node_get_int(e);
  }
  return true;
}

static void roster_entry_clear(dc_roster_entry *e) {
  g_free((char *)e->name);
  g_free((char *)e->point);
  g_free((char *)e->role);
}

/* The place of participant id in a roster, or where it would go: rosters are kept in order of
 * id (a bridge that sent them in another order still gets a working, if differently
 * ordered, roster: a lookup falls back to a scan). */
static size_t roster_find(const dc_server_msg *r, int64_t id, bool *found) {
  for (size_t i = 0; i < r->n_roster; i++)
    if (r->roster[i].participant == id) {
      *found = true;
      return i;
    }
  *found = false;
  size_t at = r->n_roster;
  while (at > 0 && r->roster[at - 1].participant > id)
    at--;
  return at;
}

bool dc_protocol_apply_roster_changes(dc_server_msg *roster, dc_server_msg *changes, char **why) {
  if (roster->type != DC_SMSG_ROSTER || changes->type != DC_SMSG_ROSTER_CHANGES) {
    *why = g_strdup("roster changes came before any roster");
    return false;
  }
  size_t grows = 0;
  for (size_t i = 0; i < changes->n_roster; i++) {
    bool found;
    roster_find(roster, changes->roster[i].participant, &found);
    grows += !found;
  }
  if (roster->n_roster + grows > DC_PROTOCOL_MAX_ROSTER) {
    *why = g_strdup_printf("a roster of more than %d", DC_PROTOCOL_MAX_ROSTER);
    return false;
  }
  for (size_t i = 0; i < changes->n_left; i++) {
    bool found;
    size_t at = roster_find(roster, changes->left[i], &found);
    if (!found)
      continue;
    roster_entry_clear(&roster->roster[at]);
    memmove(&roster->roster[at], &roster->roster[at + 1], (roster->n_roster - at - 1) * sizeof *roster->roster);
    roster->n_roster--;
  }
  roster->roster = g_renew(dc_roster_entry, roster->roster, MAX(roster->n_roster + changes->n_roster, 1));
  for (size_t i = 0; i < changes->n_roster; i++) {
    bool found;
    size_t at = roster_find(roster, changes->roster[i].participant, &found);
    if (found) {
      roster_entry_clear(&roster->roster[at]);
    } else {
      memmove(&roster->roster[at + 1], &roster->roster[at], (roster->n_roster - at) * sizeof *roster->roster);
      roster->n_roster++;
    }
    roster->roster[at] = changes->roster[i]; /* its strings move too */
  }
  roster->recording = changes->recording;
  changes->n_roster = 0; /* the strings moved: clear frees only the array */
  dc_server_msg_clear(changes);
  return true;
}

static bool parse_slots(JsonObject *o, dc_server_msg *m, failure *f) {
  JsonNode *n = json_object_get_member(o, "slots");
  if (!n || !JSON_NODE_HOLDS_ARRAY(n))
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"slots\" must be a list");
  JsonArray *a = json_node_get_array(n);
  guint len = json_array_get_length(a);
  if (len > DC_PROTOCOL_MAX_SLOTS)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "more than %d slots", DC_PROTOCOL_MAX_SLOTS);
  for (guint i = 0; i < len; i++) {
    JsonNode *e = json_array_get_element(a, i);
    if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_INT64 || json_node_get_int(e) < 0)
      return fail(f, DC_ERR_CODE_BAD_MESSAGE, "a slot must be a participant id or 0");
    m->slots[m->n_slots++] = json_node_get_int(e);
  }
  return true;
}

/* joined's "ice_servers" (optional: older bridges send none): at most DC_ICE_MAX_SERVERS
 * entries of "urls" (a string or an array of them, each one we can parse: an entry we could
 * not use is an error, not a surprise later) with "username" and "credential" for TURN. */
static bool parse_ice_servers(JsonObject *o, dc_server_msg *m, failure *f) {
  JsonNode *n = json_object_get_member(o, "ice_servers");
  if (!n || JSON_NODE_HOLDS_NULL(n))
    return true;
  if (!JSON_NODE_HOLDS_ARRAY(n) || json_array_get_length(json_node_get_array(n)) > DC_ICE_MAX_SERVERS)
    return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"ice_servers\" must be an array of at most %d servers", DC_ICE_MAX_SERVERS);
  JsonArray *a = json_node_get_array(n);
  for (guint i = 0; i < json_array_get_length(a); i++) {
    JsonNode *e = json_array_get_element(a, i);
    if (!JSON_NODE_HOLDS_OBJECT(e))
      return fail(f, DC_ERR_CODE_BAD_MESSAGE, "each of \"ice_servers\" must be an object");
    JsonObject *so = json_node_get_object(e);
    dc_ice_server *srv = &m->ice_servers[m->n_ice_servers++];
    if (!get_string(so, "username", false, 256, &srv->username, f) ||
        !get_string(so, "credential", false, 256, &srv->credential, f))
      return false;
    JsonNode *urls = json_object_get_member(so, "urls");
    GPtrArray *list = g_ptr_array_new_with_free_func(g_free);
    bool ok = urls != NULL;
    if (ok && JSON_NODE_HOLDS_VALUE(urls) && json_node_get_value_type(urls) == G_TYPE_STRING) {
      g_ptr_array_add(list, g_strdup(json_node_get_string(urls)));
    } else if (ok && JSON_NODE_HOLDS_ARRAY(urls) && json_array_get_length(json_node_get_array(urls)) <= DC_ICE_MAX_URLS) {
      JsonArray *ua = json_node_get_array(urls);
      for (guint j = 0; ok && j < json_array_get_length(ua); j++) {
        JsonNode *u = json_array_get_element(ua, j);
        ok = JSON_NODE_HOLDS_VALUE(u) && json_node_get_value_type(u) == G_TYPE_STRING;
        if (ok)
          g_ptr_array_add(list, g_strdup(json_node_get_string(u)));
      }
    } else {
      ok = false;
    }
    ok = ok && list->len > 0;
    for (guint j = 0; ok && j < list->len; j++) {
      dc_ice_url url;
      char *why = NULL;
      ok = dc_ice_url_parse(g_ptr_array_index(list, j), &url, &why);
      if (ok && url.scheme != DC_ICE_STUN && (!srv->username || !srv->credential)) {
        ok = false;
        why = g_strdup("a TURN server needs \"username\" and \"credential\"");
      }
      dc_ice_url_clear(&url);
      if (!ok) {
        g_ptr_array_unref(list);
        fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"ice_servers\": %s", why);
        g_free(why);
        return false;
      }
    }
    if (!ok) {
      g_ptr_array_unref(list);
      return fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"urls\" of \"ice_servers\" must be a URL or an array of 1-%d", DC_ICE_MAX_URLS);
    }
    g_ptr_array_set_free_func(list, NULL);
    g_ptr_array_add(list, NULL);
    srv->urls = (char **)g_ptr_array_free(list, FALSE);
  }
  return true;
}

bool dc_protocol_parse_server(const char *text, size_t len, dc_server_msg *m, char **why) {
  memset(m, 0, sizeof *m);
  failure f = {0};
  bool ok = false;
  JsonParser *parser = NULL;
  char *type = NULL;
  int64_t v;
  JsonObject *o = load_object(text, len, DC_PROTOCOL_MAX_SERVER_MESSAGE, &parser, &f);
  if (!o)
    goto out;
  if (!get_int(o, "v", 0, G_MAXINT32, &v, &f))
    goto out;
  if (v != DC_PROTOCOL_VERSION) {
    fail(&f, DC_ERR_CODE_UNSUPPORTED_VERSION, "the bridge speaks version %" G_GINT64_FORMAT ", we speak %d",
         v, DC_PROTOCOL_VERSION);
    goto out;
  }
  if (!get_string(o, "type", true, 32, &type, &f))
    goto out;
  if (!strcmp(type, "joined")) {
    m->type = DC_SMSG_JOINED;
    ok = get_int(o, "participant", 1, G_MAXINT64, &m->participant, &f) &&
         get_string(o, "point", true, 320, &m->point, &f) && get_string(o, "role", true, 32, &m->role, &f) &&
         parse_ice_servers(o, m, &f);
  } else if (!strcmp(type, "answer")) {
    m->type = DC_SMSG_ANSWER;
    ok = get_string(o, "sdp", true, DC_PROTOCOL_MAX_MESSAGE, &m->sdp, &f);
  } else if (!strcmp(type, "candidate")) {
    m->type = DC_SMSG_CANDIDATE;
    ok = get_string(o, "candidate", true, 512, &m->candidate, &f) &&
         get_string(o, "mid", false, 32, &m->mid, &f);
  } else if (!strcmp(type, "roster")) {
    m->type = DC_SMSG_ROSTER;
    ok = parse_roster_entries(o, m, &f);
  } else if (!strcmp(type, "roster_changes")) {
    m->type = DC_SMSG_ROSTER_CHANGES;
    ok = parse_roster_entries(o, m, &f) && parse_roster_left(o, m, &f);
  } else if (!strcmp(type, "slots")) {
    m->type = DC_SMSG_SLOTS;
    ok = parse_slots(o, m, &f);
  } else if (!strcmp(type, "speaker")) {
    m->type = DC_SMSG_SPEAKER;
    ok = get_int(o, "participant", 0, G_MAXINT64, &m->participant, &f);
  } else if (!strcmp(type, "audio-rate")) {
    m->type = DC_SMSG_AUDIO_RATE;
    ok = get_int(o, "max_bitrate", 0, 512000, &m->max_bitrate, &f);
  } else if (!strcmp(type, "error")) {
    m->type = DC_SMSG_ERROR;
    ok = get_string(o, "code", true, 64, &m->code, &f) && get_string(o, "message", true, 1024, &m->message, &f);
  } else {
    fail(&f, DC_ERR_CODE_UNKNOWN_TYPE, "an unknown message type \"%.32s\"", type);
  }
out:
  g_free(type);
  if (parser)
    g_object_unref(parser);
  if (!ok) {
    dc_server_msg_clear(m);
    *why = f.message;
  }
  return ok;
}

void dc_server_msg_clear(dc_server_msg *m) {
  for (size_t i = 0; i < m->n_ice_servers; i++)
    dc_ice_server_clear(&m->ice_servers[i]);
  g_free(m->point);
  g_free(m->role);
  g_free(m->sdp);
  g_free(m->candidate);
  g_free(m->mid);
  g_free(m->code);
  g_free(m->message);
  for (size_t i = 0; i < m->n_roster; i++)
    roster_entry_clear(&m->roster[i]);
  g_free(m->roster);
  g_free(m->left);
  memset(m, 0, sizeof *m);
}

/* ---- the device API ---- */

static JsonObject *get_object_or_null(JsonObject *o, const char *name, bool *ok, failure *f) {
  JsonNode *n = json_object_get_member(o, name);
  *ok = true;
  if (!n || JSON_NODE_HOLDS_NULL(n))
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT(n)) {
    *ok = fail(f, DC_ERR_CODE_BAD_MESSAGE, "\"%s\" must be an object or null", name);
    return NULL;
  }
  return json_node_get_object(n);
}

bool dc_protocol_parse_device_status(const char *text, size_t len, dc_device_status *st, char **why) {
  memset(st, 0, sizeof *st);
  failure f = {0};
  bool ok = false;
  JsonParser *parser = NULL;
  JsonObject *o = load_object(text, len, DC_PROTOCOL_MAX_MESSAGE, &parser, &f), *point, *meeting, *next;
  if (!o)
    goto out;
  bool fine;
  point = get_object_or_null(o, "point", &fine, &f);
  if (!fine || !point) {
    if (fine)
      fail(&f, DC_ERR_CODE_BAD_MESSAGE, "\"point\" is required");
    goto out;
  }
  if (!get_int(point, "id", 1, G_MAXINT64, &st->point_id, &f) ||
      !get_string(point, "name", true, 320, &st->point_name, &f) ||
      !get_string(point, "link_profile", true, 16, &st->link_profile, &f) ||
      !get_int(o, "now", 0, G_MAXINT64, &st->now, &f))
    goto out;
  meeting = get_object_or_null(o, "meeting", &fine, &f);
  if (!fine)
    goto out;
  if (meeting && (!get_int(meeting, "id", 1, G_MAXINT64, &st->meeting_id, &f) ||
                  !get_string(meeting, "title", true, 800, &st->title, &f) ||
                  !get_int(meeting, "starts_at", 0, G_MAXINT64, &st->starts_at, &f) ||
                  !get_int(meeting, "ends_at", 0, G_MAXINT64, &st->ends_at, &f) ||
                  !get_string(o, "join_link", true, 2048, &st->join_link, &f)))
    goto out;
  next = get_object_or_null(o, "next", &fine, &f);
  if (!fine)
    goto out;
  if (next && (!get_int(next, "id", 1, G_MAXINT64, &st->next_id, &f) ||
               !get_string(next, "title", true, 800, &st->next_title, &f) ||
               !get_int(next, "starts_at", 0, G_MAXINT64, &st->next_starts_at, &f)))
    goto out;
  ok = true;
out:
  if (parser)
    g_object_unref(parser);
  if (!ok) {
    dc_device_status_clear(st);
    *why = f.message;
  }
  return ok;
}

void dc_device_status_clear(dc_device_status *st) {
  g_free(st->point_name);
  g_free(st->link_profile);
  g_free(st->title);
  if (st->join_link)
    memset(st->join_link, 0, strlen(st->join_link)); /* it carries a token */
  g_free(st->join_link);
  g_free(st->next_title);
  memset(st, 0, sizeof *st);
}
