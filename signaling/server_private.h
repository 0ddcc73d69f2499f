/* server_private.h — what server.c (page, WebSocket, life cycle) and api*.c (the operators'
 * REST API, console sign-in, /metrics) share. Not an interface: only signaling/ includes it.
 */
#ifndef DC_SERVER_PRIVATE_H
#define DC_SERVER_PRIVATE_H

#include <libsoup/soup.h>
#include <stdbool.h>

#include "bridge/metrics.h"
#include "signaling/attempts.h"
#include "signaling/protocol.h"
#include "signaling/roster.h"
#include "signaling/rtt_hist.h"
#include "signaling/server.h"

struct dc_server {
  SoupServer *soup;
  SoupServer *metrics_soup; /* --metrics-listen: /metrics on a listener of its own; NULL: on the main
                             * one, answered to loopback clients only */
  dc_store *store;
  dc_bridge *bridge;
  char *web_dir;
  char *base_url;
  char *listen_text; /* the address listened on: --listen's, or "::" or "0.0.0.0" for all */
  GTimeZone *tz; /* operators' wall clock: recurrences, CSV times */
  char *tz_name;
  bool secure;   /* TLS: the console cookie is Secure */
  GList *sessions; /* session*, newest first */
  GHashTable *speakers; /* meeting -> its current dominant speaker, for newcomers */
  GHashTable *rosters;  /* meeting -> dc_roster: what its members were last told (roster.h) */
  GHashTable *roster_pace; /* meeting -> roster_pace (server_roster.c): at most one roster message a ROSTER_PACE_MS */
  GHashTable *console; /* SHA-256 hex of a console cookie -> console_login* */
  GHashTable *chairs;  /* meeting -> its chairing state (chair.c) */
  char *recordings_dir; /* DATA_DIR/recordings: one directory per meeting (recording.c) */
  char **ice_servers;   /* told in `joined` (ice_servers.h) */
  char *turn_secret;    /* shared with the TURN server; never logged, never sent */
  unsigned turn_ttl_s;
  GHashTable *recordings; /* meeting -> its recordings' state (recording.c), made on first use */
  GList *ghosts;       /* ghost*: dropped connections, expected back */
  dc_attempts *bad_tokens, *bad_keys; /* failed joins and operator keys, by address */
  int64_t next_participant;
  guint tick; /* every second: link samples, attendance, meetings that ended by time */
  unsigned ticks;
  bool shutting_down;
};

typedef struct {
  int64_t key_id;
  int64_t expires_us; /* monotonic */
} console_login;

/* A participant whose connection dropped (not a leave): shown as reconnecting in the roster
 * until its invitation joins again or RECONNECT_GRACE_S pass. */
#define RECONNECT_GRACE_S 30
typedef struct {
  int64_t meeting, invitation, point_id, participant;
  char *name, *point, *role;
  int64_t until_us; /* monotonic */
} ghost;

typedef struct {
  dc_server *server;
  SoupWebsocketConnection *conn;
  GSocket *socket;  /* its TCP connection's, for the window (server.h); NULL if libsoup had none */
  dc_participant *participant;
  int64_t id, meeting, invitation, point_id;
  char *address;    /* the client's IP address */
  guint join_timer; /* a connection that does not join in time is closed */
  char *name, *point, *role;
  bool muted;      /* by itself */
  bool host_muted; /* by the host (chair.c) */
  int64_t hand;    /* raised: its place in the meeting's order of hands; 0: down */
  bool connected; /* its media is up */
  bool ever_connected;
  bool roster_changes; /* asked for roster_changes at its join */
  bool roster_sent;    /* has had a whole roster */
  int bad;
  /* attendance (api_attendance.c keeps it): the stay's row, when it began, and its link samples */
  int64_t stay, joined_at, join_us;
  dc_rtt_hist *rtt; /* one sample a second while connected, for the median (rtt_hist.h) */
  double loss_down_sum, loss_up_sum;
  int loss_down_n, loss_up_n;
  int64_t video_off_s;
} session;

/* server.c */
void dc_server_send_error(session *s, const char *code, const char *message);
void dc_server_send_text(session *s, char *text); /* takes text; nothing once the socket closes */
int dc_server_remove_sessions(dc_server *srv, int64_t meeting, int64_t invitation, const char *code,
                              const char *why);
bool dc_server_origin_allowed(SoupServerMessage *msg);

/* server_roster.c */
/* The meeting's roster changed: its members are told, at once or, after one within the last
 * ROSTER_PACE_MS, together with whatever else changes until then. */
void dc_server_broadcast_roster(dc_server *srv, int64_t meeting);
/* Forgets ghosts past their grace and tells their meetings (every second). */
void dc_server_expire_ghosts(dc_server *srv);
/* Drops the meeting's ghosts of this invitation (it is back); whether there were any. */
bool dc_server_ghost_back(dc_server *srv, int64_t meeting, int64_t invitation);
void dc_server_ghost_free(gpointer ghost);
void dc_server_roster_pace_free(gpointer roster_pace); /* srv->roster_pace's values */

/* chair.c: the chair's controls and the meeting's log */
/* false after telling s why it may not join (removed by the host, or a locked meeting) */
bool dc_chair_admit(dc_server *srv, session *s, const dc_invitation *inv, const dc_meeting *m);
void dc_chair_joined(dc_server *srv, session *s);
void dc_chair_left(dc_server *srv, session *s);
void dc_chair_speaker(dc_server *srv, int64_t meeting, int64_t participant);
/* handles own mutes, hands and the host's commands; false for other messages */
bool dc_chair_handle(session *s, const dc_client_msg *m);
/* sets the chairing members of the roster entries (in_order: their sessions) and out */
void dc_chair_fill_roster(dc_server *srv, int64_t meeting, GArray *entries, GPtrArray *in_order,
                          dc_roster_meeting *out, GArray *removed, GPtrArray *strings);
/* a line in the meeting's log (who: NULL for none) */
void dc_chair_log(dc_server *srv, int64_t meeting, const char *kind, const session *who, const char *detail);

/* recording.c: start (on) or stop a meeting's recording; by: who, for the meeting's log */
bool dc_recording_set(dc_server *srv, int64_t meeting, bool on, const char *by, GError **error);
/* a point joined: a meeting marked to be recorded starts its recording (once a run) */
void dc_recording_auto(dc_server *srv, int64_t meeting);
/* every second: recordings of meetings that are over are stopped */
void dc_recording_tick(dc_server *srv, int64_t now);
void dc_recording_fill_roster(dc_server *srv, int64_t meeting, dc_roster_meeting *out);
char *dc_recording_dir(dc_server *srv, int64_t meeting);
bool dc_recording_name_ok(const char *name);
GPtrArray *dc_recording_list(dc_server *srv, int64_t meeting); /* file names, oldest first */
/* the wall-clock time (Unix ms) of a recording file's zero, 0 when not known */
int64_t dc_recording_started_at_ms(dc_server *srv, int64_t meeting, const char *name);

/* api.c */
void dc_api_handle(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer srv);
void dc_console_handle(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer srv);
void dc_metrics_handle(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer srv);
/* api_attendance.c. Attendance: a stay begins when a join is accepted and ends when its session leaves. */
void dc_api_stay_begin(dc_server *srv, session *s);
void dc_api_stay_end(dc_server *srv, session *s);
/* Every second (main thread): link samples, stays saved, meetings past their end closed. */
void dc_api_tick(dc_server *srv);

#endif
