/* server_roster.c — what a meeting's members are told of each other: the roster (whole to a
 * newcomer, then only its changes to those that take them: roster.h), paced at most one
 * message a ROSTER_PACE_MS per meeting, the dominant speaker, and the ghosts: participants
 * whose connection dropped, shown as reconnecting for RECONNECT_GRACE_S until their
 * invitation joins again. Main thread only. */
#include "signaling/server_private.h"

#include "signaling/protocol.h"

/* Tells a meeting's members its roster as it is now (only what changed, to those that take
 * changes). */
static void send_roster_now(dc_server *srv, int64_t meeting) {
  GArray *entries = g_array_new(FALSE, TRUE, sizeof(dc_roster_entry));
  GArray *ghost_entries = g_array_new(FALSE, TRUE, sizeof(dc_roster_entry));
  GPtrArray *in_order = g_ptr_array_new();
  for (GList *l = g_list_last(srv->sessions); l; l = l->prev) { /* oldest first */
    session *s = l->data;
    if (s->participant && s->meeting == meeting) {
      dc_roster_entry e = {.participant = s->id, .name = s->name, .point = s->point, .role = s->role,
                           .muted = s->muted, .connected = s->connected};
      g_array_append_val(entries, e);
      g_ptr_array_add(in_order, s);
    }
  }
  for (GList *l = g_list_last(srv->ghosts); l; l = l->prev) {
    ghost *g = l->data;
    if (g->meeting != meeting)
      continue;
    dc_roster_entry e = {.participant = g->participant, .name = g->name, .point = g->point, .role = g->role,
                         .reconnecting = true};
    g_array_append_val(ghost_entries, e);
  }
  dc_roster_meeting chairing = {0};
  GArray *removed = g_array_new(FALSE, TRUE, sizeof(dc_roster_removed));
  GPtrArray *strings = g_ptr_array_new_with_free_func(g_free);
  dc_chair_fill_roster(srv, meeting, entries, in_order, &chairing, removed, strings);
  dc_recording_fill_roster(srv, meeting, &chairing);
  g_array_append_vals(entries, ghost_entries->data, ghost_entries->len); /* after the chair's, which index in_order */
  g_array_unref(ghost_entries);
  dc_roster *roster = g_hash_table_lookup(srv->rosters, &meeting);
  if (!roster) {
    roster = dc_roster_new();
    g_hash_table_insert(srv->rosters, g_memdup2(&meeting, sizeof meeting), roster);
  }
  char *changes = dc_roster_update(roster, (dc_roster_entry *)entries->data, entries->len, &chairing);
  g_array_unref(removed);
  g_ptr_array_unref(strings);
  g_ptr_array_unref(in_order);
  g_array_unref(entries);
  /* Those that apply changes and had the whole roster get what changed; the others (a newcomer,
   * an older endpoint) the whole. */
  char *whole = NULL;
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (!s->participant || s->meeting != meeting)
      continue;
    if (s->roster_changes && s->roster_sent) {
      if (changes)
        dc_server_send_text(s, g_strdup(changes));
    } else if (changes || !s->roster_sent) {
      if (!whole)
        whole = dc_roster_whole(roster);
      dc_server_send_text(s, g_strdup(whole));
      /* a newcomer learns who speaks after whom it names (the roster may come paced) */
      const int64_t *speaker = s->roster_sent ? NULL : g_hash_table_lookup(srv->speakers, &meeting);
      if (speaker && *speaker)
        dc_server_send_text(s, dc_protocol_speaker(*speaker));
      s->roster_sent = true;
    }
  }
  g_free(changes);
  g_free(whole);
  if (!dc_roster_size(roster)) /* nobody left to tell, no ghost expected back */
    g_hash_table_remove(srv->rosters, &meeting);
}

/* Roster messages paced (issue 15): a storm of 300 joins made every join and every media
 * coming up a message to each member, ~180 000 WebSocket messages for the main thread to
 * build and send (two thirds of its time in the storm, and the clients' to parse). The first
 * change goes at once, as before; changes within ROSTER_PACE_MS of the last message go
 * together when it ends. */
#define ROSTER_PACE_MS 100

typedef struct {
  dc_server *srv;
  int64_t meeting;
  gint64 last_us; /* the last roster message, monotonic */
  guint timer;    /* the paced one, due */
} roster_pace;

void dc_server_roster_pace_free(gpointer data) {
  roster_pace *rp = data;
  if (rp->timer)
    g_source_remove(rp->timer);
  g_free(rp);
}

static gboolean roster_pace_due(gpointer data) {
  roster_pace *rp = data;
  dc_server *srv = rp->srv;
  int64_t meeting = rp->meeting;
  rp->timer = 0;
  rp->last_us = g_get_monotonic_time();
  if (!srv->shutting_down)
    send_roster_now(srv, meeting);
  if (!g_hash_table_contains(srv->rosters, &meeting)) /* nobody left: nothing more to pace */
    g_hash_table_remove(srv->roster_pace, &meeting);
  return G_SOURCE_REMOVE;
}

void dc_server_broadcast_roster(dc_server *srv, int64_t meeting) {
  if (srv->shutting_down) /* everyone is told the bridge stops; a roster per leave is N^2 */
    return;
  roster_pace *rp = g_hash_table_lookup(srv->roster_pace, &meeting);
  if (!rp) {
    rp = g_new0(roster_pace, 1);
    rp->srv = srv;
    rp->meeting = meeting;
    g_hash_table_insert(srv->roster_pace, g_memdup2(&meeting, sizeof meeting), rp);
  }
  if (rp->timer)
    return; /* it goes with the one due */
  gint64 now = g_get_monotonic_time();
  gint64 next = rp->last_us + ROSTER_PACE_MS * 1000;
  if (rp->last_us && now < next) {
    rp->timer = g_timeout_add((guint)((next - now + 999) / 1000), roster_pace_due, rp);
    return;
  }
  rp->last_us = now;
  send_roster_now(srv, meeting);
  if (!g_hash_table_contains(srv->rosters, &meeting))
    g_hash_table_remove(srv->roster_pace, &meeting);
}

void dc_server_speaker_changed(gpointer server, int64_t meeting, int64_t participant) {
  dc_server *srv = server;
  g_hash_table_insert(srv->speakers, g_memdup2(&meeting, sizeof meeting),
                      g_memdup2(&participant, sizeof participant));
  dc_chair_speaker(srv, meeting, participant);
  char *text = dc_protocol_speaker(participant);
  for (GList *l = srv->sessions; l; l = l->next) {
    session *s = l->data;
    if (s->participant && s->meeting == meeting)
      dc_server_send_text(s, g_strdup(text));
  }
  g_free(text);
}
void dc_server_ghost_free(gpointer data) {
  ghost *g = data;
  g_free(g->name);
  g_free(g->point);
  g_free(g->role);
  g_free(g);
}

/* Drops the meeting's ghosts of this invitation (it is back); whether there were any. */
bool dc_server_ghost_back(dc_server *srv, int64_t meeting, int64_t invitation) {
  bool found = false;
  for (GList *l = srv->ghosts, *next; l; l = next) {
    next = l->next;
    ghost *g = l->data;
    if (g->meeting == meeting && g->invitation == invitation) {
      dc_server_ghost_free(g);
      srv->ghosts = g_list_delete_link(srv->ghosts, l);
      found = true;
    }
  }
  return found;
}

void dc_server_expire_ghosts(dc_server *srv) {
  gint64 now = g_get_monotonic_time();
  GArray *meetings = g_array_new(FALSE, FALSE, sizeof(int64_t));
  for (GList *l = srv->ghosts, *next; l; l = next) {
    next = l->next;
    ghost *g = l->data;
    if (g->until_us > now)
      continue;
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT " (%s) did not come back within %d s",
              g->meeting, g->participant, g->point, RECONNECT_GRACE_S);
    g_array_append_val(meetings, g->meeting);
    dc_server_ghost_free(g);
    srv->ghosts = g_list_delete_link(srv->ghosts, l);
  }
  for (guint i = 0; i < meetings->len; i++)
    dc_server_broadcast_roster(srv, g_array_index(meetings, int64_t, i));
  g_array_unref(meetings);
}
