/* janus_client.h — a participant of Janus's AudioBridge and VideoRoom, for the load
 * generator's side by side (issue 15). Signaling is Janus's HTTP API (create a session, attach
 * a plugin handle a conversation, send its request with our offer or answer, long-poll the
 * session for Janus's events, trickle our candidates); media is our own transport
 * (bridge/transport: ICE, DTLS-SRTP), the same the generator uses against diemcau, so both
 * servers meet the same client doing the same work and only the server differs.
 *
 * A participant has up to three PeerConnections, as a page of Janus's own demos does:
 * - audio: janus.plugin.audiobridge, "join" with our offer (one Opus section with the
 *   audio-level extension); Janus mixes and sends the mix back on it;
 * - a camera (when video_ssrcs is given): janus.plugin.videoroom, "joinandconfigure" as a
 *   publisher with our offer of one VP8 section, its simulcast layers grouped with
 *   a=ssrc-group:SIM, lowest first, as Chrome offers it;
 * - what it watches (when subscribe is given): a second VideoRoom handle, "join" as a
 *   subscriber to those publishers' cameras in one PeerConnection (Janus's multistream), each
 *   at the simulcast layer asked; Janus offers, we answer with "start". A publisher not yet in
 *   the room is asked for again every 0.5 s, for up to 60 s.
 * All three transports run on the participant's one worker.
 *
 * Left out: Janus's WebSocket transport, API secrets and tokens (the run's Janus has none),
 * reconnecting a session, renegotiating a subscription when a publisher leaves.
 */
#ifndef DC_TEST_JANUS_CLIENT_H
#define DC_TEST_JANUS_CLIENT_H

#include <libsoup/soup.h>

#include "bridge/transport.h"

typedef struct janus_client janus_client;

#define JANUS_CLIENT_MAX_FEEDS 4

typedef struct {
  SoupSession *session;
  dc_worker *worker; /* every transport of the participant on it */
  dc_dtls_identity *identity;
  const char *url; /* http://127.0.0.1:PORT/janus */
  guint64 room;    /* an AudioBridge room at 48 kHz and a VideoRoom room of that number, made by the run's configuration */
  const char *name;
  uint32_t audio_ssrc;
  uint8_t level_id; /* the audio-level extension's id in our offer */
  const char *local_address; /* where our ICE gathers: Janus leaves loopback interfaces out */
  /* the camera: n_video_layers SSRCs, lowest first (0: none); its publisher id in the room */
  const uint32_t *video_ssrcs;
  int n_video_layers;
  uint8_t video_pt;
  guint64 feed_id;
  /* the publishers' cameras to watch, each at a simulcast layer (0 lowest) */
  guint64 subscribe[JANUS_CLIENT_MAX_FEEDS];
  int substream[JANUS_CLIENT_MAX_FEEDS];
  int n_subscribe;
} janus_client_config;

typedef struct {
  /* on the worker, once ICE and DTLS are up: the audio's transport, then the camera's */
  void (*connected)(dc_transport *t, gpointer user);
  void (*video_connected)(dc_transport *t, gpointer user);
  void (*rtp)(gpointer user, uint8_t *buf, size_t len, size_t cap);       /* the mix */
  void (*video_rtp)(gpointer user, uint8_t *buf, size_t len, size_t cap); /* the cameras watched */
} janus_client_callbacks;

/* Starts at once: session, handles, joins. The config's strings and arrays are copied. Main thread. */
janus_client *janus_client_new(const janus_client_config *cfg, const janus_client_callbacks *cb, gpointer user);
/* Stops the long poll and closes the transports (on their worker). Then free the workers
 * (dc_workers_free runs the closes) before janus_client_free. */
void janus_client_close(janus_client *c);
void janus_client_free(janus_client *c);

gboolean janus_client_is_connected(const janus_client *c);  /* audio up (any thread) */
gboolean janus_client_video_is_connected(const janus_client *c); /* every conversation asked for up */
gint64 janus_client_started_us(const janus_client *c);      /* when the session was asked for */
gint64 janus_client_connected_us(const janus_client *c);    /* when audio came up, or 0 */
guint64 janus_client_signaling_bytes(const janus_client *c); /* Janus's replies and events, in bytes */
/* Where it got to, for a participant that never connected. */
const char *janus_client_progress(const janus_client *c);

#endif
