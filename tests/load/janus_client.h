/* janus_client.h — a participant of Janus's AudioBridge, for the load generator's side by side
 * (issue 15). Signaling is Janus's HTTP API (janus.transport.http: create a session, attach
 * janus.plugin.audiobridge, "join" with our offer, long-poll the session for the answer,
 * trickle our candidates); media is our own transport (bridge/transport: ICE, DTLS-SRTP), the
 * same the generator uses against diemcau, so both servers meet the same client doing the same
 * work and only the server differs.
 *
 * Audio only: one Opus section with the audio-level extension, as the generator's points send
 * it. Left out: VideoRoom (publishers and subscriber handles), Janus's WebSocket transport,
 * API secrets and tokens (the run's Janus has none), reconnecting a session.
 */
#ifndef DC_TEST_JANUS_CLIENT_H
#define DC_TEST_JANUS_CLIENT_H

#include <libsoup/soup.h>

#include "bridge/transport.h"

typedef struct janus_client janus_client;

typedef struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *identity;
  const char *url; /* http://127.0.0.1:PORT/janus */
  guint64 room;    /* an AudioBridge room at 48 kHz, made by the run's configuration */
  const char *name;
  uint32_t audio_ssrc;
  uint8_t level_id; /* the audio-level extension's id in our offer */
  const char *local_address; /* where our ICE gathers: Janus leaves loopback interfaces out */
} janus_client_config;

typedef struct {
  /* the worker, once ICE and DTLS are up */
  void (*connected)(dc_transport *t, gpointer user);
  void (*rtp)(gpointer user, uint8_t *buf, size_t len, size_t cap);
} janus_client_callbacks;

/* Starts at once: session, handle, join. The config's strings are copied. Main thread. */
janus_client *janus_client_new(const janus_client_config *cfg, const janus_client_callbacks *cb, gpointer user);
/* Stops the long poll and closes the transport (on its worker). Then free the workers
 * (dc_workers_free runs the close) before janus_client_free. */
void janus_client_close(janus_client *c);
void janus_client_free(janus_client *c);

dc_transport *janus_client_transport(const janus_client *c); /* NULL until attached */
gboolean janus_client_is_connected(const janus_client *c);  /* media up (any thread) */
gint64 janus_client_started_us(const janus_client *c);      /* when the session was asked for */
gint64 janus_client_connected_us(const janus_client *c);    /* when media came up, or 0 */
guint64 janus_client_signaling_bytes(const janus_client *c); /* Janus's replies and events, in bytes */
/* Where it got to, for a participant that never connected. */
const char *janus_client_progress(const janus_client *c);

#endif
