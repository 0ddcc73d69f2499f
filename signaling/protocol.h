/* protocol.h — the client's signaling messages (JSON over WebSocket), parsed and validated.
 *
 * Every message is an object with "v" (protocol version, 1) and "type". This module turns
 * one text frame into a typed struct or into the error a client should get back
 * ({"type":"error","code":...,"message":...}); it never half-parses. The message set and
 * each field's limits are documented in signaling/PROTOCOL.md, which is the contract.
 * Server-to-client messages are built with the dc_protocol_* writers below so their shape
 * lives in one place too.
 */
#ifndef DC_PROTOCOL_H
#define DC_PROTOCOL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "signaling/ice_servers.h"

#define DC_PROTOCOL_VERSION 1
#define DC_PROTOCOL_MAX_MESSAGE 65536 /* bytes in one frame; an SDP offer fits well */
#define DC_PROTOCOL_MAX_SLOTS 9

typedef enum {
  DC_MSG_JOIN,
  DC_MSG_OFFER,
  DC_MSG_CANDIDATE,
  DC_MSG_MUTE,
  DC_MSG_LEAVE,
  DC_MSG_PIN,   /* host only */
  DC_MSG_UNPIN, /* host only */
  DC_MSG_HAND,  /* raise or lower one's hand */
  /* the chair's controls, host only (issue 14) */
  DC_MSG_HOST_MUTE,  /* participant, audio_muted */
  DC_MSG_MUTE_ALL,   /* audio_muted: everyone but the hosts, and who joins later */
  DC_MSG_GIVE_FLOOR, /* participant */
  DC_MSG_TAKE_FLOOR,
  DC_MSG_REMOVE,     /* participant */
  DC_MSG_READMIT,    /* invitation */
  DC_MSG_LOCK,       /* locked */
  DC_MSG_END_MEETING,
  DC_MSG_RECORD,     /* recording: start or stop the meeting's recording */
  DC_MSG_AUDIO_WAIT, /* audio_wait_ms: its jitter buffer's wait changed (a native endpoint) */
} dc_msg_type;

typedef struct {
  dc_msg_type type;
  /* join */
  int64_t meeting;
  char *token, *name, *profile; /* profile: "hall", "standard" or "highland" */
  int slots;                    /* video slots wanted: main + thumbnails, 1..9 */
  bool roster_changes;          /* the client applies roster_changes after its first roster */
  int audio_wait_ms;            /* its audio jitter buffer's wait for a late or repaired packet; 0: not said (audio_wait too) */
  /* offer */
  char *sdp;
  /* candidate: an a=candidate value ("candidate:..."), "" for end-of-candidates */
  char *candidate, *mid;
  /* mute, host_mute, mute_all ("muted") */
  bool audio_muted;
  /* pin, host_mute, give_floor, remove */
  int64_t participant;
  bool raised;        /* hand */
  bool locked;        /* lock */
  bool recording;     /* record */
  int64_t invitation; /* readmit */
} dc_client_msg;

/* Error codes sent to clients, stable strings they may switch on. */
#define DC_ERR_CODE_BAD_MESSAGE "bad-message"
#define DC_ERR_CODE_UNSUPPORTED_VERSION "unsupported-version"
#define DC_ERR_CODE_UNKNOWN_TYPE "unknown-type"
#define DC_ERR_CODE_TOO_LARGE "too-large"
/* ...and from the server, once a message parsed: */
#define DC_ERR_CODE_NOT_JOINED "not-joined"
#define DC_ERR_CODE_ALREADY_JOINED "already-joined"
#define DC_ERR_CODE_INVALID_TOKEN "invalid-token"
#define DC_ERR_CODE_EXPIRED_TOKEN "expired-token"
#define DC_ERR_CODE_UNKNOWN_MEETING "unknown-meeting"
#define DC_ERR_CODE_MEETING_ENDED "meeting-ended"
#define DC_ERR_CODE_MEETING_CANCELLED "meeting-cancelled"
#define DC_ERR_CODE_MEETING_NOT_OPEN "meeting-not-open"
#define DC_ERR_CODE_BAD_OFFER "bad-offer"
#define DC_ERR_CODE_MEETING_FULL "meeting-full"
#define DC_ERR_CODE_SHUTTING_DOWN "shutting-down"
#define DC_ERR_CODE_NOT_ALLOWED "not-allowed"
#define DC_ERR_CODE_UNKNOWN_PARTICIPANT "unknown-participant"
#define DC_ERR_CODE_REVOKED "invitation-revoked"
#define DC_ERR_CODE_MEDIA_FAILED "media-failed"
#define DC_ERR_CODE_MUTED_BY_HOST "muted-by-host"
#define DC_ERR_CODE_REMOVED "removed-by-host"
#define DC_ERR_CODE_LOCKED "meeting-locked"
#define DC_ERR_CODE_TOO_MANY_ATTEMPTS "too-many-attempts"

/* Returns false and sets *code (one of the DC_ERR_CODE_* strings) and *message. */
bool dc_protocol_parse(const char *text, size_t len, dc_client_msg *msg, const char **code,
                       char **message);
void dc_client_msg_clear(dc_client_msg *msg);

/* Server-to-client messages, as JSON text to send (g_free them). */
char *dc_protocol_error(const char *code, const char *message);
/* ice: the STUN/TURN servers the client should use (none: n_ice 0; see ice_servers.h). */
char *dc_protocol_joined(int64_t participant, const char *point, const char *role, const dc_ice_server *ice,
                         size_t n_ice);
char *dc_protocol_answer(const char *sdp);
char *dc_protocol_candidate(const char *candidate, const char *mid);

typedef struct {
  int64_t participant;
  const char *name, *point, *role;
  bool muted;
  bool connected; /* its media is up */
  bool host_muted; /* muted by the host: it cannot unmute itself */
  int hand;        /* its place in the queue of raised hands, 1 first; 0: hand down */
  bool floor;      /* the host gave it the floor */
  bool reconnecting; /* its connection dropped a moment ago: it is expected back */
} dc_roster_entry;

/* The meeting's side of the roster: whether it is locked, and the points the host removed
 * (by their invitation, to let one back in). */
typedef struct {
  int64_t invitation;
  const char *point;
} dc_roster_removed;

typedef struct {
  bool locked;
  const dc_roster_removed *removed;
  size_t n_removed;
  bool recording;                /* the meeting is being recorded (everyone is told) */
  const char *recording_error;   /* why the last recording stopped by itself, or NULL */
} dc_roster_meeting;

/* Who fills this participant's video slots (main first); 0 for an empty slot. */
char *dc_protocol_slots(const int64_t *sources, int n);

/* The dominant speaker changed; participant 0 means nobody is speaking. */
char *dc_protocol_speaker(int64_t participant);
/* The rate the client's audio encoder should keep to (its codec's, bits per second; 0: what
 * the answer asked): its uplink queues what it sends now (bridge/room.c). */
char *dc_protocol_audio_rate(unsigned max_bitrate);

/* Everyone in the meeting, in order of participant id (join order). */
char *dc_protocol_roster(const dc_roster_entry *entries, size_t n, const dc_roster_meeting *meeting);

/* What changed since the last roster or roster_changes: entries new or different (whole),
 * the ids that left, and the meeting's side (always whole: it is a few bytes). roster.h
 * computes them. */
char *dc_protocol_roster_changes(const dc_roster_entry *changed, size_t n, const int64_t *left, size_t n_left,
                                 const dc_roster_meeting *meeting);

/* ---- the client's side, for native endpoints (endpoint/) ---- */

/* Client-to-bridge messages, as JSON text to send (g_free them). A candidate goes out with
 * dc_protocol_candidate above: both directions share its shape. pin 0 is unpin. A join asks
 * for roster_changes: the client applies them with dc_protocol_apply_roster_changes; its
 * audio_wait_ms (0: left out) tells the bridge how far back its audio copies may reach. */
#define DC_PROTOCOL_MAX_AUDIO_WAIT_MS 2000
char *dc_protocol_join(int64_t meeting, const char *token, const char *name, const char *profile,
                       int slots, int audio_wait_ms);
char *dc_protocol_offer(const char *sdp);
char *dc_protocol_mute(bool audio_muted);
char *dc_protocol_leave(void);
char *dc_protocol_pin(int64_t participant);
/* The client's audio jitter buffer now waits audio_wait_ms (as a join's). */
char *dc_protocol_audio_wait(int audio_wait_ms);

typedef enum {
  DC_SMSG_JOINED,
  DC_SMSG_ANSWER,
  DC_SMSG_CANDIDATE,
  DC_SMSG_ROSTER,
  DC_SMSG_ROSTER_CHANGES,
  DC_SMSG_SLOTS,
  DC_SMSG_SPEAKER,
  DC_SMSG_AUDIO_RATE,
  DC_SMSG_ERROR,
} dc_server_msg_type;

/* A province-wide meeting has 150-300 points, and a roster of 300 is ~60 KB of JSON: the
 * bridge's frames may be larger than a client's. */
#define DC_PROTOCOL_MAX_ROSTER 1024
#define DC_PROTOCOL_MAX_SERVER_MESSAGE (1024 * 1024)

typedef struct {
  dc_server_msg_type type;
  int64_t participant;      /* joined: our id; speaker: who speaks (0: nobody) */
  char *point, *role;       /* joined */
  dc_ice_server ice_servers[DC_ICE_MAX_SERVERS]; /* joined: n_ice_servers, each with a URL at least */
  size_t n_ice_servers;
  char *sdp;                /* answer */
  char *candidate, *mid;    /* candidate ("" for end of candidates; mid may be NULL) */
  dc_roster_entry *roster;  /* roster: n_roster entries, by participant id; roster_changes: the
                               new or changed ones. Their strings belong to the message */
  size_t n_roster;
  int64_t *left;            /* roster_changes: the participants no longer in the roster */
  size_t n_left;
  bool recording;           /* roster, roster_changes: the meeting is being recorded */
  int64_t slots[DC_PROTOCOL_MAX_SLOTS]; /* slots: participant per slot, main first, 0 empty */
  int n_slots;
  int64_t max_bitrate;      /* audio-rate: bits per second, 0 = the answer's */
  char *code, *message;     /* error */
} dc_server_msg;

/* Parses one bridge-to-client frame. Unknown members are ignored (PROTOCOL.md); an unknown
 * type, a missing member or one of the wrong type is an error (*why, g_free it) and leaves
 * *msg empty. */
bool dc_protocol_parse_server(const char *text, size_t len, dc_server_msg *msg, char **why);
void dc_server_msg_clear(dc_server_msg *msg);

/* Applies a parsed roster_changes to the roster held in *roster (a parsed roster, changed
 * before, or all zeros when none came yet), taking the strings of *changes, which is left
 * empty. False with *why (g_free it) when it cannot apply: no roster yet, or one that would
 * grow past DC_PROTOCOL_MAX_ROSTER; *roster is then unchanged. */
bool dc_protocol_apply_roster_changes(dc_server_msg *roster, dc_server_msg *changes, char **why);

/* ---- the device API (PROTOCOL.md, "Device API"): GET /api/device/meeting ---- */

typedef struct {
  int64_t point_id;
  char *point_name, *link_profile;
  int64_t now;                  /* the bridge's clock, Unix seconds */
  int64_t meeting_id;           /* open now, 0 for none */
  char *title, *join_link;      /* of the open meeting */
  int64_t starts_at, ends_at;
  int64_t next_id, next_starts_at; /* the next one to begin, 0 for none */
  char *next_title;
} dc_device_status;

/* Parses the bridge's answer; false with *why (g_free it) and *st empty when it is not one. */
bool dc_protocol_parse_device_status(const char *text, size_t len, dc_device_status *st, char **why);
void dc_device_status_clear(dc_device_status *st);

#endif
