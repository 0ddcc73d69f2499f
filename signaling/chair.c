/* chair.c — the chair's controls (issue 14; PROTOCOL.md, "Chairing"): host mutes, raised
 * hands and the floor, removing a point, locking and ending the meeting; observers kept to
 * listening; and the meeting's log of who spoke and what the chair did, for the minutes.
 *
 * Muting is the bridge's: a participant's effective mute (its own, or the host's) is what
 * dc_participant_set_muted gets, and the bridge drops a muted participant's audio before the
 * mixer. A point muted by the host cannot unmute itself (muted-by-host) but may raise its
 * hand. Giving the floor unmutes that point and pins it to every main slot; taking the floor
 * back restores its mute as it was. "Mute all" is a mode: everyone but the hosts is muted,
 * and so is whoever joins while it lasts.
 *
 * Locked meetings and removed invitations are kept in the store, so a restart keeps them;
 * hands, the floor and the mute-all mode are the meeting's live state and a restart clears
 * them. A locked meeting still takes back a point that was in it (a highland link that
 * dropped): only invitations never used in it are refused.
 */
#include <string.h>

#include "signaling/protocol.h"
#include "signaling/server_private.h"

typedef struct {
  bool all_muted;
  int64_t floor;        /* participant with the floor, 0 none */
  bool floor_was_muted; /* its host mute before it got the floor */
  int64_t hand_seq;     /* raised hands are ordered by this */
} chair;

static chair *chair_of(dc_server *srv, int64_t meeting) {
  chair *c = g_hash_table_lookup(srv->chairs, &meeting);
  if (!c) {
    c = g_new0(chair, 1);
    g_hash_table_insert(srv->chairs, g_memdup2(&meeting, sizeof meeting), c);
  }
  return c;
}

static void log_point(dc_server *srv, int64_t meeting, const char *kind, const char *point, const char *name,
                      const char *detail);

static bool is_host(const session *s) { return !strcmp(s->role, "host"); }
static bool is_observer(const session *s) { return !strcmp(s->role, "observer"); }

void dc_chair_log(dc_server *srv, int64_t meeting, const char *kind, const session *who, const char *detail) {
  log_point(srv, meeting, kind, who ? who->point : "", who ? who->name : "", detail);
}

static void log_point(dc_server *srv, int64_t meeting, const char *kind, const char *point, const char *name,
                      const char *detail) {
  GError *err = NULL;
  if (!dc_store_event(srv->store, meeting, g_get_real_time() / 1000, kind, point, name, detail, &err)) {
    g_warning("meeting %" G_GINT64_FORMAT ": its log: %s", meeting, err->message);
    g_error_free(err);
  }
}

static void apply_mute(session *s) {
  if (s->participant)
    dc_participant_set_muted(s->participant, s->muted || s->host_muted || is_observer(s));
}

static session *find(dc_server *srv, int64_t meeting, int64_t participant) {
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (s->participant && s->meeting == meeting && s->id == participant)
      return s;
  }
  return NULL;
}

/* ---- joining and leaving ---- */

bool dc_chair_admit(dc_server *srv, session *s, const dc_invitation *inv, const dc_meeting *m) {
  if (inv->barred) {
    dc_server_send_error(s, DC_ERR_CODE_REMOVED, "the host removed this point from the meeting");
    return false;
  }
  if (m->locked && !dc_store_invitation_has_stayed(srv->store, inv->id)) {
    dc_server_send_error(s, DC_ERR_CODE_LOCKED, "the host has locked this meeting: no new points may join");
    return false;
  }
  return true;
}

void dc_chair_joined(dc_server *srv, session *s) {
  chair *c = chair_of(srv, s->meeting);
  if (is_observer(s))
    dc_participant_set_observer(s->participant);
  s->host_muted = c->all_muted && !is_host(s) && !is_observer(s);
  apply_mute(s);
  dc_chair_log(srv, s->meeting, "join", s, s->role);
}

/* The floor in everyone's main slot (0: nobody's). A meeting nobody is in has no room, and
 * needs none made for this. */
static void pin(dc_server *srv, int64_t meeting, int64_t participant) {
  dc_room *room = dc_bridge_find_room(srv->bridge, meeting);
  if (room)
    dc_room_pin(room, participant);
}

void dc_chair_left(dc_server *srv, session *s) {
  chair *c = chair_of(srv, s->meeting);
  if (c->floor == s->id) {
    c->floor = 0;
    pin(srv, s->meeting, 0);
  }
  s->hand = 0;
  dc_chair_log(srv, s->meeting, "leave", s, NULL);
}

void dc_chair_speaker(dc_server *srv, int64_t meeting, int64_t participant) {
  session *s = participant ? find(srv, meeting, participant) : NULL;
  dc_chair_log(srv, meeting, "speaker", s, NULL);
}

/* ---- the roster's chairing members ---- */

static gint by_hand(gconstpointer a, gconstpointer b) {
  int64_t x = (*(session *const *)a)->hand, y = (*(session *const *)b)->hand;
  return (x > y) - (x < y);
}

void dc_chair_fill_roster(dc_server *srv, int64_t meeting, GArray *entries, GPtrArray *in_order,
                          dc_roster_meeting *out, GArray *removed, GPtrArray *strings) {
  chair *c = chair_of(srv, meeting);
  GPtrArray *hands = g_ptr_array_new();
  for (guint i = 0; i < in_order->len; i++)
    if (((session *)in_order->pdata[i])->hand)
      g_ptr_array_add(hands, in_order->pdata[i]);
  g_ptr_array_sort(hands, by_hand);
  for (guint i = 0; i < in_order->len; i++) {
    session *s = in_order->pdata[i];
    dc_roster_entry *e = &g_array_index(entries, dc_roster_entry, i);
    e->muted = s->muted || s->host_muted || is_observer(s);
    e->host_muted = s->host_muted;
    e->floor = c->floor == s->id;
    for (guint k = 0; k < hands->len; k++)
      if (hands->pdata[k] == s)
        e->hand = (int)k + 1;
  }
  g_ptr_array_unref(hands);
  dc_meeting *m = dc_store_get_meeting(srv->store, meeting, NULL);
  out->locked = m && m->locked;
  dc_meeting_free(m);
  GPtrArray *invs = dc_store_list_invitations(srv->store, meeting, NULL);
  for (guint i = 0; invs && i < invs->len; i++) {
    dc_invitation *inv = invs->pdata[i];
    if (!inv->barred)
      continue;
    dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
    char *name = g_strdup(p ? p->name : "");
    g_ptr_array_add(strings, name);
    dc_roster_removed r = {inv->id, name};
    g_array_append_val(removed, r);
    dc_point_free(p);
  }
  if (invs)
    g_ptr_array_unref(invs);
  out->removed = (dc_roster_removed *)removed->data;
  out->n_removed = removed->len;
}

/* ---- the messages ---- */

/* A refused record message tells the host why; it is not a fault of the meeting's. */
static bool answer_record(session *s, GError *err) {
  if (err) {
    dc_server_send_error(s, DC_ERR_CODE_NOT_ALLOWED, err->message);
    g_error_free(err);
  }
  return true;
}

/* Gives or takes back the floor; the floor holder's mute is restored when it ends. */
static void end_floor(dc_server *srv, chair *c, int64_t meeting) {
  session *holder = c->floor ? find(srv, meeting, c->floor) : NULL;
  if (holder) {
    holder->host_muted = c->floor_was_muted;
    apply_mute(holder);
    dc_chair_log(srv, meeting, "floor-taken", holder, NULL);
  }
  c->floor = 0;
}

bool dc_chair_handle(session *s, const dc_client_msg *m) {
  dc_server *srv = s->server;
  chair *c = chair_of(srv, s->meeting);
  if (m->type == DC_MSG_MUTE) { /* one's own mute: not out of the host's */
    if (!m->audio_muted && s->host_muted) {
      dc_server_send_error(s, DC_ERR_CODE_MUTED_BY_HOST, "the host has muted this point: raise your hand to ask for the floor");
      return true;
    }
    bool changed = s->muted != m->audio_muted;
    s->muted = m->audio_muted;
    apply_mute(s); /* the media first, the store after */
    if (changed) /* the meeting's log keeps every mute, for the minutes */
      dc_chair_log(srv, s->meeting, m->audio_muted ? "muted" : "unmuted", s, NULL);
    dc_server_broadcast_roster(srv, s->meeting);
    return true;
  }
  if (m->type == DC_MSG_HAND) {
    if (is_observer(s)) {
      dc_server_send_error(s, DC_ERR_CODE_NOT_ALLOWED, "an observer listens and watches: it cannot ask for the floor");
      return true;
    }
    if (m->raised != (s->hand != 0)) {
      s->hand = m->raised ? ++c->hand_seq : 0;
      dc_chair_log(srv, s->meeting, m->raised ? "hand-raised" : "hand-lowered", s, NULL);
      dc_server_broadcast_roster(srv, s->meeting);
    }
    return true;
  }
  bool chair_command = m->type == DC_MSG_HOST_MUTE || m->type == DC_MSG_MUTE_ALL || m->type == DC_MSG_GIVE_FLOOR ||
                       m->type == DC_MSG_TAKE_FLOOR || m->type == DC_MSG_REMOVE || m->type == DC_MSG_READMIT ||
                       m->type == DC_MSG_LOCK || m->type == DC_MSG_END_MEETING || m->type == DC_MSG_RECORD;
  if (!chair_command)
    return false;
  if (!is_host(s)) {
    dc_server_send_error(s, DC_ERR_CODE_NOT_ALLOWED, "only the meeting's host chairs it");
    return true;
  }
  session *target = NULL;
  if (m->type == DC_MSG_HOST_MUTE || m->type == DC_MSG_GIVE_FLOOR || m->type == DC_MSG_REMOVE) {
    target = find(srv, s->meeting, m->participant);
    if (!target || target == s) {
      dc_server_send_error(s, DC_ERR_CODE_UNKNOWN_PARTICIPANT,
                           target ? "the host chairs others, not itself" : "no such participant in this meeting");
      return true;
    }
  }
  GError *err = NULL;
  switch (m->type) {
  case DC_MSG_HOST_MUTE:
    target->host_muted = m->audio_muted;
    if (c->floor == target->id && m->audio_muted)
      c->floor = 0, pin(srv, s->meeting, 0);
    apply_mute(target);
    dc_chair_log(srv, s->meeting, m->audio_muted ? "host-mute" : "host-unmute", target, NULL);
    break;
  case DC_MSG_MUTE_ALL:
    c->all_muted = m->audio_muted;
    for (GList *l = srv->sessions; l; l = l->next) {
      session *o = l->data;
      if (!o->participant || o->meeting != s->meeting || is_host(o) || is_observer(o) ||
          (m->audio_muted && o->id == c->floor))
        continue; /* the floor keeps its voice: taking it back restores the mute */
      o->host_muted = m->audio_muted;
      apply_mute(o);
    }
    if (c->floor)
      c->floor_was_muted = m->audio_muted;
    dc_chair_log(srv, s->meeting, m->audio_muted ? "mute-all" : "unmute-all", s, NULL);
    break;
  case DC_MSG_GIVE_FLOOR:
    if (is_observer(target)) {
      dc_server_send_error(s, DC_ERR_CODE_NOT_ALLOWED, "an observer cannot have the floor");
      return true;
    }
    if (c->floor != target->id) {
      end_floor(srv, c, s->meeting);
      c->floor = target->id;
      c->floor_was_muted = target->host_muted;
    }
    target->host_muted = false;
    target->hand = 0;
    apply_mute(target);
    pin(srv, s->meeting, target->id);
    dc_chair_log(srv, s->meeting, "floor-given", target, NULL);
    break;
  case DC_MSG_TAKE_FLOOR:
    end_floor(srv, c, s->meeting);
    pin(srv, s->meeting, 0);
    break;
  case DC_MSG_REMOVE: {
    int64_t invitation = target->invitation;
    if (!dc_store_set_invitation_barred(srv->store, invitation, true, &err))
      break;
    dc_chair_log(srv, s->meeting, "removed", target, NULL);
    int n = dc_server_remove_sessions(srv, s->meeting, invitation, DC_ERR_CODE_REMOVED,
                                      "the host removed this point from the meeting");
    g_message("meeting %" G_GINT64_FORMAT ": the host removed invitation %" G_GINT64_FORMAT " (%d participant(s))",
              s->meeting, invitation, n);
    break;
  }
  case DC_MSG_READMIT: {
    dc_invitation *inv = dc_store_get_invitation(srv->store, m->invitation, NULL);
    if (!inv || inv->meeting_id != s->meeting) {
      dc_invitation_free(inv);
      dc_server_send_error(s, DC_ERR_CODE_UNKNOWN_PARTICIPANT, "no such invitation in this meeting");
      return true;
    }
    dc_point *p = dc_store_get_point(srv->store, inv->point_id, NULL);
    if (dc_store_set_invitation_barred(srv->store, m->invitation, false, &err))
      log_point(srv, s->meeting, "readmitted", p ? p->name : "", "", NULL);
    dc_point_free(p);
    dc_invitation_free(inv);
    break;
  }
  case DC_MSG_RECORD:
    if (!dc_recording_set(srv, s->meeting, m->recording, s->point, &err))
      g_message("meeting %" G_GINT64_FORMAT ": the host's record message: %s", s->meeting, err->message);
    return answer_record(s, err);
  case DC_MSG_LOCK:
    if (dc_store_set_meeting_locked(srv->store, s->meeting, m->locked, &err))
      dc_chair_log(srv, s->meeting, m->locked ? "locked" : "unlocked", s, NULL);
    break;
  case DC_MSG_END_MEETING: {
    if (!dc_store_end_meeting(srv->store, s->meeting, g_get_real_time() / G_USEC_PER_SEC, &err))
      break;
    dc_chair_log(srv, s->meeting, "ended", s, NULL);
    int64_t meeting = s->meeting; /* s is put out with everyone */
    int n = dc_server_remove_sessions(srv, meeting, 0, DC_ERR_CODE_MEETING_ENDED, "the host ended this meeting");
    g_message("meeting %" G_GINT64_FORMAT ": the host ended it; %d participant(s) disconnected", meeting, n);
    return true;
  }
  default: break;
  }
  if (err) {
    g_warning("meeting %" G_GINT64_FORMAT ": %s", s->meeting, err->message);
    dc_server_send_error(s, DC_ERR_CODE_NOT_ALLOWED, err->message);
    g_error_free(err);
    return true;
  }
  dc_server_broadcast_roster(srv, s->meeting);
  return true;
}
