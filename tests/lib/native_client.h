/* native_client.h — a participant without a browser, for tests and benchmarks that drive the
 * real daemon packet by packet: libsoup's WebSocket for signaling (join, offer, trickle
 * candidates), our own bridge/transport in the ICE-controlling, DTLS-client role for media.
 *
 * Signaling runs on the thread-default main context of the caller; media callbacks run on
 * the transport's worker, as in the bridge. The caller writes the offer (it decides what the
 * client sends); dc_client_offer_transport() gives the ICE and DTLS lines every section
 * needs. Messages other than joined/answer/candidate go to the caller's message callback.
 */
#ifndef DC_TEST_NATIVE_CLIENT_H
#define DC_TEST_NATIVE_CLIENT_H

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "bridge/transport.h"

typedef struct dc_client dc_client;

typedef struct {
  /* main thread: the offer to send once joined (g_free()d by the client) */
  char *(*offer)(dc_client *c, gpointer user);
  /* main thread, optional: any other message; type is its "type" */
  void (*message)(dc_client *c, const char *type, JsonObject *msg, gpointer user);
  /* the worker, optional */
  void (*connected)(dc_client *c, gpointer user);
  void (*rtp)(gpointer user, uint8_t *buf, size_t len, size_t cap);
  void (*rtcp)(gpointer user, uint8_t *buf, size_t len);
} dc_client_callbacks;

typedef struct {
  SoupSession *session;
  dc_workers *workers;
  dc_dtls_identity *identity;
  const char *ws_url;   /* ws://127.0.0.1:PORT/ws */
  int64_t meeting;
  const char *token;
  const char *name;
  int slots;
  /* once connected, an empty RTCP receiver report every second, as every real peer reports
   * at least that often (the bridge frees a peer it hears nothing from for 30 s) */
  bool reports;
  uint64_t remb_bps; /* with reports: each carries a REMB of this rate, as Chrome's on a clear link (0: none) */
  bool roster_changes; /* join asking for roster_changes, as the page and the endpoint do */
  const char *profile; /* the join's link profile ("hall", "standard", "highland"); NULL: none given */
  int audio_wait_ms;   /* the join's audio_wait_ms, as the native endpoint says it (0: not given) */
  const char *local_address; /* where the client's ICE gathers (NULL: 127.0.0.1; "::1" for IPv6) */
  /* optional, main thread: for a test that stands between the client and the bridge, each of
   * the bridge's candidates goes to the transport as this returns it (g_free()d; NULL: not
   * given), and the client's own are not sent (the bridge learns where the client is from its
   * checks, as behind a NAT); user is the callbacks' */
  char *(*bridge_candidate)(const char *candidate, gpointer user);
  /* optional, main thread, with bridge_candidate: each of the client's own candidates is sent
   * as this returns it (g_free()d; NULL: not sent), as a NAT's address the test stands at */
  char *(*own_candidate)(const char *candidate, gpointer user);
} dc_client_config;

/* Connects and joins at once. The config's strings are copied. */
dc_client *dc_client_new(const dc_client_config *cfg, const dc_client_callbacks *cb, gpointer user);

/* Hangs up: the WebSocket closes and the transport is closed on its worker. Then free the
 * workers (dc_workers_free runs the close) before dc_client_free. */
void dc_client_close(dc_client *c);
/* Sends a signaling message as it is (main thread; dropped unless the WebSocket is open). */
void dc_client_send_text(dc_client *c, const char *text);
void dc_client_free(dc_client *c);

dc_transport *dc_client_transport(const dc_client *c); /* NULL until joined */
int64_t dc_client_participant(const dc_client *c);     /* 0 until joined */
gboolean dc_client_is_connected(const dc_client *c);   /* media up (any thread) */
/* The bridge's ICE ufrag and password from its answer (NULL before): a test that plays one of
 * the client's other addresses signs its checks with them. */
const char *dc_client_bridge_ufrag(const dc_client *c);
const char *dc_client_bridge_pwd(const dc_client *c);
gint64 dc_client_started_us(const dc_client *c);       /* when its WebSocket was asked for */
gint64 dc_client_opened_us(const dc_client *c);        /* when the WebSocket opened, or 0 */
gint64 dc_client_connected_us(const dc_client *c);     /* when its media came up, or 0 (any thread) */
/* A join's steps, or 0 until each: the bridge's "joined", its answer, ICE's first path */
gint64 dc_client_joined_us(const dc_client *c);
gint64 dc_client_answered_us(const dc_client *c);
gint64 dc_client_ice_ready_us(const dc_client *c); /* main thread */
guint64 dc_client_signaling_bytes(const dc_client *c); /* the bridge's frames, in bytes (main thread) */
/* The a= lines for ICE, DTLS and rtcp-mux that every offered section carries. */
char *dc_client_offer_transport(const dc_client *c);
/* The same for any offerer with transport t and identity id (the load generator's Janus client). */
char *dc_offer_transport_lines(const dc_transport *t, dc_dtls_identity *id);
/* The same with another DTLS role (RFC 5763 §5: "actpass" offers, "active" or "passive" answers). */
char *dc_transport_lines(const dc_transport *t, dc_dtls_identity *id, const char *setup);
/* A page's offer for two video slots (g_free() it): Opus sendrecv from audio_ssrc with the
 * audio-level extension as id 1; the camera's section, sendrecv, sending n_video SSRCs (none:
 * no camera; more than one: simulcast layers, a=ssrc-group:SIM lowest first); one thumbnail,
 * recvonly. VP8 as payload type 96 with NACK, PLI and REMB, as Chrome offers them. */
char *dc_client_meeting_offer(const dc_client *c, uint32_t audio_ssrc, const uint32_t *video_ssrcs, int n_video);
/* An empty RTCP receiver report from ssrc every second, on t's worker (called there): every
 * real peer reports at least that often. Destroy the source on that worker before t closes. */
GSource *dc_client_report_every_second(dc_transport *t, uint32_t ssrc);
/* The same, each report carrying a REMB of remb_bps (0: none). */
GSource *dc_client_report_with_remb(dc_transport *t, uint32_t ssrc, uint64_t remb_bps);
/* A whole offer of one sendrecv Opus section sending from ssrc (g_free() it). */
char *dc_client_audio_offer(const dc_client *c, uint32_t ssrc);

#endif
