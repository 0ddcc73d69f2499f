/* session.c — signaling, TLS trust and reconnecting for one endpoint; see session.h. */
#include "endpoint/session.h"

#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

#include "signaling/protocol.h"

#define say dc_endpoint_say

#define BACKOFF_MAX_MS 1000 /* back within 5 s of the bridge being reachable again */
/* ICE over a highland link completes in a few seconds; through a TURN relay over TCP on a
 * busy machine it took over 10 s. */
#define MEDIA_TIMEOUT_S 20
/* libnice lists the machine's addresses as it starts gathering and makes a host candidate on
 * each at once, so none this long after our offer means it found no address to reach the
 * bridge from. It takes addresses only from links the kernel marks running, which it does up
 * to a second after a link is set up: an endpoint started 0.2 s after its network namespace
 * was made listed only the loopback (endpoint-highland-link, one run in two, until the tests
 * waited for their links), and a new session a moment later found the link's address. A box
 * that starts before its modem is up is the same case. Looking again at once beats waiting
 * out MEDIA_TIMEOUT_S. */
#define NO_CANDIDATE_S 3

struct dc_session {
  dc_session_config cfg;
  void (*on_end)(int code, void *user);
  void *user;
  SoupSession *http;
  SoupWebsocketConnection *ws;
  GCancellable *cancel;
  GCancellable *resolving; /* the ICE servers' names being looked up for this connection */
  dc_endpoint_media *media;
  /* what the bridge told us */
  int64_t me, speaker;
  char *point;
  dc_server_msg roster;
  int64_t slots[DC_PROTOCOL_MAX_SLOTS];
  int n_slots;
  bool muted;
  /* reconnecting */
  unsigned attempt;
  gint64 trouble_since_us; /* first failure since we were last in the meeting; 0: none */
  int trouble_code;        /* the exit code if we give up: unreachable or media */
  guint retry_timer, media_timer, candidate_timer;
  unsigned local_candidates; /* of this media session */
  bool joined, media_up, ended, leaving;
  /* whether the next media session offers TCP paths (media.h): not at first; after a try
   * whose media never came up, every other try does, for a network that blocks UDP */
  bool ice_tcp;
  dc_trust trust;
};

static void connect_bridge(dc_session *s);

void dc_endpoint_say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, "diemcau-endpoint: %s\n", text);
  g_free(text);
}

/* ---- certificates ---- */

gboolean dc_trust_accept(SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer data) {
  (void)msg, (void)errors;
  dc_trust *t = data;
  char *fp = dc_certificate_fingerprint(cert);
  bool ok = t->insecure || dc_fingerprint_matches(t->pin, fp);
  g_free(t->refused);
  t->refused = ok ? NULL : fp;
  if (ok)
    g_free(fp);
  return ok;
}

bool dc_trust_use_ca(SoupSession *http, const char *ca_file, GError **error) {
  if (!ca_file)
    return true;
  GTlsDatabase *db = g_tls_file_database_new(ca_file, error);
  if (!db)
    return false;
  soup_session_set_tls_database(http, db);
  g_object_unref(db);
  return true;
}

void dc_trust_explain(const dc_trust *t) {
  say("the bridge's TLS certificate is not trusted (SHA-256 %s). If it is your bridge's own "
      "certificate, run again with --pin %s (or --ca FILE with its tls-cert.pem)",
      t->refused, t->refused);
}

/* ---- ending and retrying ---- */

static void stop_media(dc_session *s) {
  if (s->resolving) { /* a lookup still out: it ends without starting anything */
    g_cancellable_cancel(s->resolving);
    g_clear_object(&s->resolving);
  }
  if (s->media_timer)
    g_source_remove(s->media_timer), s->media_timer = 0;
  if (s->candidate_timer)
    g_source_remove(s->candidate_timer), s->candidate_timer = 0;
  dc_media_free(s->media);
  s->media = NULL;
  s->media_up = false;
}

static void drop_connection(dc_session *s) {
  stop_media(s);
  if (s->ws) {
    g_signal_handlers_disconnect_by_data(s->ws, s);
    if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    g_clear_object(&s->ws);
  }
  s->joined = false;
}

static void end(dc_session *s, int code) {
  if (s->ended)
    return;
  s->ended = true;
  if (s->retry_timer)
    g_source_remove(s->retry_timer), s->retry_timer = 0;
  g_cancellable_cancel(s->cancel);
  drop_connection(s);
  s->on_end(code, s->user);
}

static gboolean retry(gpointer data) {
  dc_session *s = data;
  s->retry_timer = 0;
  connect_bridge(s);
  return G_SOURCE_REMOVE;
}

/* Something went wrong that a later try may not meet: try again, within bounds. */
static void trouble(dc_session *s, int code, const char *what) {
  if (s->ended)
    return;
  if (code == DC_EXIT_MEDIA && s->media && !s->media_up && s->local_candidates) { /* no path found this time */
    s->ice_tcp = !s->ice_tcp;
    if (s->ice_tcp)
      say("the next try offers TCP paths too (for a network that blocks UDP)");
  }
  drop_connection(s);
  gint64 now = g_get_monotonic_time();
  if (!s->trouble_since_us)
    s->trouble_since_us = now, s->attempt = 0;
  if (code == DC_EXIT_MEDIA || s->trouble_code != DC_EXIT_MEDIA)
    s->trouble_code = code;
  unsigned waited_s = (unsigned)((now - s->trouble_since_us) / G_USEC_PER_SEC);
  if (s->cfg.give_up_after_s && waited_s >= s->cfg.give_up_after_s) {
    say("giving up after %u s: %s", waited_s, what);
    end(s, s->trouble_code);
    return;
  }
  unsigned delay = dc_backoff_ms(s->attempt++, BACKOFF_MAX_MS, g_random_double());
  say("%s; trying again in %.1f s", what, delay / 1000.0);
  s->retry_timer = g_timeout_add(delay, retry, s);
}

/* A link opened before its meeting opens (15 min before its start, by default) is tried
 * again this often until it does: a clerk may start the box early. */
#define NOT_OPEN_RETRY_MS 20000

/* The bridge refused us in a way no retry changes (or, for a meeting not open yet, that
 * time changes). */
static void refused(dc_session *s, const char *code, const char *message) {
  struct {
    const char *code;
    int exit;
    const char *words;
  } known[] = {
      {DC_ERR_CODE_INVALID_TOKEN, DC_EXIT_REFUSED, "the bridge does not accept this invitation (ask the operator for a new link)"},
      {DC_ERR_CODE_REVOKED, DC_EXIT_REFUSED, "the operator withdrew this invitation"},
      {DC_ERR_CODE_EXPIRED_TOKEN, DC_EXIT_EXPIRED, "this invitation has expired (ask the operator for a new link)"},
      {DC_ERR_CODE_MEETING_ENDED, DC_EXIT_ENDED, "the meeting is over"},
      {DC_ERR_CODE_MEETING_CANCELLED, DC_EXIT_ENDED, "the operator cancelled the meeting"},
      {DC_ERR_CODE_UNKNOWN_MEETING, DC_EXIT_ENDED, "the bridge has no such meeting"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(known); i++)
    if (!strcmp(code, known[i].code)) {
      say("%s (%s: %s)", known[i].words, code, message);
      bool normal = s->cfg.leave_when_ended && known[i].exit == DC_EXIT_ENDED && s->me;
      end(s, normal ? DC_EXIT_OK : known[i].exit);
      return;
    }
  if (!strcmp(code, DC_ERR_CODE_MEETING_NOT_OPEN) || !strcmp(code, DC_ERR_CODE_MEETING_FULL)) {
    /* early, or no place yet: wait for one, asking now and then */
    say("%s; asking again in %d s", message, NOT_OPEN_RETRY_MS / 1000);
    drop_connection(s);
    s->attempt = 0;
    s->retry_timer = g_timeout_add(NOT_OPEN_RETRY_MS, retry, s);
    return;
  }
  if (!strcmp(code, DC_ERR_CODE_MEDIA_FAILED) || !strcmp(code, DC_ERR_CODE_SHUTTING_DOWN)) {
    char *what = g_strdup_printf("the bridge says: %s", message);
    trouble(s, !strcmp(code, DC_ERR_CODE_MEDIA_FAILED) ? DC_EXIT_MEDIA : DC_EXIT_UNREACHABLE, what);
    g_free(what);
    return;
  }
  say("the bridge refused a message (%s: %s)", code, message);
  if (!s->joined || !strcmp(code, DC_ERR_CODE_BAD_OFFER))
    end(s, DC_EXIT_FAILURE);
}

/* ---- signaling ---- */

static void send_text(dc_session *s, char *text) {
  if (s->ws && soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(s->ws, text);
  g_free(text);
}

static const dc_roster_entry *who(dc_session *s, int64_t id) {
  for (size_t i = 0; i < s->roster.n_roster; i++)
    if (s->roster.roster[i].participant == id)
      return &s->roster.roster[i];
  return NULL;
}

static void show_status(dc_session *s) {
  if (!s->media)
    return;
  const dc_roster_entry *sp = who(s, s->speaker);
  char *status = g_strdup_printf("%s — %s%s%s — %s%s", s->point ? s->point : "", s->media_up ? "đã kết nối (connected)" : "đang kết nối (connecting)",
                                 sp ? " — đang nói (speaking): " : "", sp ? sp->point : "",
                                 s->muted ? "micro tắt (muted)" : "micro bật (mic on)",
                                 s->roster.recording ? " — ● đang ghi hình (recording)" : "");
  dc_media_set_status(s->media, status);
  g_free(status);
  const char *labels[DC_PROTOCOL_MAX_SLOTS];
  char *owned[DC_PROTOCOL_MAX_SLOTS] = {0};
  for (int i = 0; i < s->n_slots; i++) {
    const dc_roster_entry *e = who(s, s->slots[i]);
    labels[i] = e ? (owned[i] = g_strdup_printf("%s — %s", e->point, e->name)) : "";
  }
  dc_media_set_labels(s->media, labels, s->n_slots);
  for (int i = 0; i < s->n_slots; i++)
    g_free(owned[i]);
}

static gboolean no_candidate(gpointer data) {
  dc_session *s = data;
  s->candidate_timer = 0;
  trouble(s, DC_EXIT_MEDIA, "no network address to reach the bridge from (is the network up?)");
  return G_SOURCE_REMOVE;
}

static void media_offer(const char *sdp, void *user) {
  dc_session *s = user;
  send_text(s, dc_protocol_offer(sdp));
  if (!s->local_candidates && !s->candidate_timer)
    s->candidate_timer = g_timeout_add_seconds(NO_CANDIDATE_S, no_candidate, s);
}

static void media_candidate(const char *candidate, void *user) {
  dc_session *s = user;
  if (candidate && *candidate) { /* not the end of them */
    s->local_candidates++;
    if (s->candidate_timer)
      g_source_remove(s->candidate_timer), s->candidate_timer = 0;
  }
  send_text(s, dc_protocol_candidate(candidate, NULL));
}

static void media_connected(bool up, void *user) {
  dc_session *s = user;
  if (up) {
    s->media_up = true;
    s->trouble_since_us = 0, s->attempt = 0;
    if (s->media_timer)
      g_source_remove(s->media_timer), s->media_timer = 0;
    say("in the meeting: media connected");
    show_status(s);
  } else if (s->media_up) {
    trouble(s, DC_EXIT_MEDIA, "the media connection was lost");
  } else {
    trouble(s, DC_EXIT_MEDIA, "no media connection (ICE failed: is UDP to the bridge blocked?)");
  }
}

static void media_failed(const char *why, void *user) {
  dc_session *s = user;
  say("media error: %s", why);
  end(s, DC_EXIT_FAILURE);
}

static void media_missing(const char *words, void *user) {
  (void)user;
  say("%s", words);
}

static void media_stats(const char *line, void *user) {
  (void)user;
  fprintf(stdout, "%s\n", line);
  fflush(stdout);
}

static void media_audio_wait(int ms, int before_ms, dc_wait_reason why, bool in_a_pause, void *user) {
  dc_session *s = user;
  const char *when = in_a_pause ? "in a pause of the sound" : "mid-sound: it had not paused for 10 s";
  if (why == DC_WAIT_LONE_LOSS && ms < before_ms)
    say("the meeting's sound comes with no losses or lone ones only: it now waits %d ms for late or repaired packets "
        "(less delay, changed %s), and the bridge is told so", ms, when);
  else if (why == DC_WAIT_LONE_LOSS)
    say("the meeting's sound comes with no losses or lone ones only, but its packets come late: it keeps waiting %d "
        "ms for late or repaired packets (less if they come sooner later on), and the bridge is told so", ms);
  else if (why == DC_WAIT_LATER_PACKETS)
    say("the meeting's sound comes later than it did (a busier link?): it now waits %d ms for late or repaired "
        "packets, and the bridge is told so", ms);
  else if (why == DC_WAIT_EARLIER_PACKETS)
    say("the meeting's sound comes sooner again (a calmer link): it now waits %d ms for late or repaired packets "
        "(less delay, changed %s), and the bridge is told so", ms, when);
  else if (ms == before_ms)
    say("the meeting's sound comes with losses in runs (a radio link's fades?): it keeps waiting %d ms for late or "
        "repaired packets, and the bridge is told so", ms);
  else
    say("the meeting's sound comes with losses in runs (a radio link's fades?): it now waits %d ms for late or "
        "repaired packets, and the bridge is told so", ms);
  send_text(s, dc_protocol_audio_wait(ms));
}

static gboolean media_timeout(gpointer data) {
  dc_session *s = data;
  s->media_timer = 0;
  trouble(s, DC_EXIT_MEDIA, "no media connection within " G_STRINGIFY(MEDIA_TIMEOUT_S) " s (is UDP to the bridge blocked?)");
  return G_SOURCE_REMOVE;
}

static void start_media(dc_session *s, char **ice_uris) {
  dc_media_events ev = {media_offer, media_candidate, media_connected, media_failed, media_stats, media_missing,
                        media_audio_wait, s};
  GError *err = NULL;
  dc_media_config mc = s->cfg.media;
  mc.ice_uris = ice_uris;
  mc.ice_tcp = s->ice_tcp;
  s->media = dc_media_new(&mc, &ev, &err);
  if (!s->media || !dc_media_start(s->media, &err)) {
    say("cannot start the media: %s", err->message);
    g_error_free(err);
    end(s, DC_EXIT_FAILURE);
    return;
  }
  dc_media_set_muted(s->media, s->muted);
  s->local_candidates = 0;
  s->media_timer = g_timeout_add_seconds(MEDIA_TIMEOUT_S, media_timeout, s);
  show_status(s);
}

/* ---- the bridge's STUN/TURN servers ---- */

/* Each server URL joined offered, its host to be resolved (GStreamer 1.22 hands the host to
 * libnice as it is, and libnice wants an address). Names are looked up without blocking the
 * session: a highland link's DNS can take seconds. The media starts once every name has an
 * answer; a name that does not resolve leaves its server out, and says so. */
typedef struct {
  char *text, *username, *credential;
  dc_ice_url url;
} ice_entry;

typedef struct {
  dc_session *s;
  GCancellable *cancel; /* s->resolving: cancelled when the connection goes */
  GArray *entries;      /* ice_entry */
  guint pending;
} ice_job;

static void ice_job_free(ice_job *job) {
  for (guint i = 0; i < job->entries->len; i++) {
    ice_entry *e = &g_array_index(job->entries, ice_entry, i);
    if (e->credential)
      memset(e->credential, 0, strlen(e->credential));
    g_free(e->text), g_free(e->username), g_free(e->credential);
    dc_ice_url_clear(&e->url);
  }
  g_array_unref(job->entries);
  g_object_unref(job->cancel);
  g_free(job);
}

static void ice_job_done(ice_job *job) {
  dc_session *s = job->s;
  GPtrArray *uris = g_ptr_array_new();
  for (guint i = 0; i < job->entries->len; i++) {
    ice_entry *e = &g_array_index(job->entries, ice_entry, i);
    if (!e->url.host)
      continue; /* did not resolve: said already */
    if (e->url.scheme != DC_ICE_STUN)
      say("the bridge offers a relay: %s", e->text); /* the URL only: never the credential */
    g_ptr_array_add(uris, dc_ice_url_for_gstreamer(&e->url, e->username, e->credential));
  }
  g_ptr_array_add(uris, NULL);
  char **list = (char **)g_ptr_array_free(uris, FALSE);
  g_clear_object(&s->resolving);
  ice_job_free(job);
  start_media(s, list);
  for (char **u = list; *u; u++) /* credentials: not left in freed memory */
    memset(*u, 0, strlen(*u));
  g_strfreev(list);
}

typedef struct {
  ice_job *job;
  guint index;
} ice_lookup;

static void on_ice_host(GObject *resolver, GAsyncResult *res, gpointer data) {
  ice_lookup *l = data;
  ice_job *job = l->job;
  ice_entry *e = &g_array_index(job->entries, ice_entry, l->index);
  g_free(l);
  GError *err = NULL;
  GList *addrs = g_resolver_lookup_by_name_finish(G_RESOLVER(resolver), res, &err);
  bool cancelled = g_cancellable_is_cancelled(job->cancel);
  if (addrs) {
    g_free(e->url.host);
    e->url.host = g_inet_address_to_string(addrs->data);
    g_resolver_free_addresses(addrs);
  } else {
    if (!cancelled)
      say("cannot use the server %s the bridge offers: %s", e->text, err->message);
    dc_ice_url_clear(&e->url);
  }
  g_clear_error(&err);
  if (--job->pending)
    return;
  if (cancelled) /* the connection this was for is gone */
    ice_job_free(job);
  else
    ice_job_done(job);
}

static void on_joined(dc_session *s, const dc_server_msg *m) {
  s->me = m->participant;
  g_free(s->point);
  s->point = g_strdup(m->point);
  s->joined = true;
  say("joined as %s (participant %" G_GINT64_FORMAT ", %s)", m->point, m->participant, m->role);
  ice_job *job = g_new0(ice_job, 1);
  job->s = s;
  job->cancel = g_cancellable_new();
  job->entries = g_array_new(FALSE, TRUE, sizeof(ice_entry));
  for (size_t i = 0; i < m->n_ice_servers; i++)
    for (char **u = m->ice_servers[i].urls; u && *u; u++) {
      ice_entry e = {.text = g_strdup(*u), .username = g_strdup(m->ice_servers[i].username),
                     .credential = g_strdup(m->ice_servers[i].credential)};
      if (dc_ice_url_parse(*u, &e.url, NULL)) /* else refused with the message already */
        g_array_append_val(job->entries, e);
      else
        g_free(e.text), g_free(e.username), g_free(e.credential);
    }
  GResolver *resolver = g_resolver_get_default();
  for (guint i = 0; i < job->entries->len; i++) {
    ice_entry *e = &g_array_index(job->entries, ice_entry, i);
    if (g_hostname_is_ip_address(e->url.host))
      continue;
    ice_lookup *l = g_new(ice_lookup, 1);
    *l = (ice_lookup){job, i};
    job->pending++;
    g_resolver_lookup_by_name_async(resolver, e->url.host, job->cancel, on_ice_host, l);
  }
  g_object_unref(resolver);
  if (job->pending) {
    s->resolving = g_object_ref(job->cancel);
    return;
  }
  ice_job_done(job);
}

static void on_message(SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data) {
  (void)ws;
  dc_session *s = data;
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  gsize len;
  const char *text = g_bytes_get_data(bytes, &len);
  dc_server_msg m;
  char *why = NULL;
  if (!dc_protocol_parse_server(text, len, &m, &why)) {
    say("ignored a message from the bridge: %s", why);
    g_free(why);
    return;
  }
  switch (m.type) {
  case DC_SMSG_JOINED:
    if (!s->joined)
      on_joined(s, &m);
    break;
  case DC_SMSG_ANSWER:
    if (s->media)
      dc_media_set_answer(s->media, m.sdp);
    break;
  case DC_SMSG_CANDIDATE:
    if (s->media)
      dc_media_add_candidate(s->media, m.candidate);
    break;
  case DC_SMSG_ROSTER:
    if (m.recording != s->roster.recording) /* people at the point must know */
      say(m.recording ? "this meeting is being recorded" : "this meeting is no longer being recorded");
    dc_server_msg_clear(&s->roster);
    s->roster = m;
    memset(&m, 0, sizeof m); /* kept */
    show_status(s);
    break;
  case DC_SMSG_ROSTER_CHANGES: {
    bool was_recording = s->roster.recording;
    char *refused = NULL;
    if (!dc_protocol_apply_roster_changes(&s->roster, &m, &refused)) {
      say("ignored the bridge's roster changes: %s", refused);
      g_free(refused);
      break;
    }
    if (was_recording != s->roster.recording)
      say(s->roster.recording ? "this meeting is being recorded" : "this meeting is no longer being recorded");
    show_status(s);
    break;
  }
  case DC_SMSG_SLOTS:
    memcpy(s->slots, m.slots, sizeof s->slots);
    s->n_slots = m.n_slots;
    show_status(s);
    break;
  case DC_SMSG_SPEAKER:
    s->speaker = m.participant;
    show_status(s);
    break;
  case DC_SMSG_AUDIO_RATE:
    if (m.max_bitrate)
      say("the link to the bridge is full: sending our sound at %" G_GINT64_FORMAT " kbit/s", m.max_bitrate / 1000);
    else
      say("sending our sound at the usual rate again");
    if (s->media)
      dc_media_set_audio_rate(s->media, (unsigned)m.max_bitrate);
    break;
  case DC_SMSG_ERROR:
    refused(s, m.code, m.message);
    break;
  }
  dc_server_msg_clear(&m);
}

static void on_closed(SoupWebsocketConnection *ws, gpointer data) {
  dc_session *s = data;
  if (s->ended || s->leaving)
    return;
  const char *reason = soup_websocket_connection_get_close_data(ws);
  char *what = g_strdup_printf("the bridge closed the connection%s%s", reason && *reason ? ": " : "", reason ? reason : "");
  trouble(s, DC_EXIT_UNREACHABLE, what);
  g_free(what);
}

static void on_connected(GObject *source, GAsyncResult *res, gpointer data) {
  dc_session *s = data;
  GError *err = NULL;
  SoupWebsocketConnection *ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), res, &err);
  if (!ws) {
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_error_free(err);
      return;
    }
    if (s->trust.refused) {
      dc_trust_explain(&s->trust);
      g_error_free(err);
      end(s, DC_EXIT_CERTIFICATE);
      return;
    }
    char *what = g_strdup_printf("cannot reach the bridge at %s: %s", s->cfg.link.host, err->message);
    g_error_free(err);
    trouble(s, DC_EXIT_UNREACHABLE, what);
    g_free(what);
    return;
  }
  s->ws = ws;
  g_signal_connect(ws, "message", G_CALLBACK(on_message), s);
  g_signal_connect(ws, "closed", G_CALLBACK(on_closed), s);
  soup_websocket_connection_set_keepalive_interval(ws, 5);
  /* a big meeting's whole roster is larger than libsoup's default 128 KiB at ~600 points */
  soup_websocket_connection_set_max_incoming_payload_size(ws, DC_PROTOCOL_MAX_SERVER_MESSAGE);
  const dc_media_config *mc = &s->cfg.media;
  send_text(s, dc_protocol_join(s->cfg.link.meeting, s->cfg.link.token, s->cfg.name, s->cfg.profile->name,
                                mc->audio_only ? 1 : mc->slots, s->cfg.profile->audio_wait_runs_ms));
}

static void connect_bridge(dc_session *s) {
  if (s->ended)
    return;
  g_clear_pointer(&s->trust.refused, g_free);
  SoupMessage *msg = soup_message_new(SOUP_METHOD_GET, s->cfg.link.ws_url);
  if (!msg) {
    say("cannot use %s", s->cfg.link.ws_url);
    end(s, DC_EXIT_USAGE);
    return;
  }
  g_signal_connect(msg, "accept-certificate", G_CALLBACK(dc_trust_accept), &s->trust);
  soup_session_websocket_connect_async(s->http, msg, NULL, NULL, G_PRIORITY_DEFAULT, s->cancel, on_connected, s);
  g_object_unref(msg);
}

/* ---- life ---- */

dc_session *dc_session_new(const dc_session_config *cfg, void (*on_end)(int code, void *user), void *user) {
  dc_session *s = g_new0(dc_session, 1);
  s->cfg = *cfg;
  s->cfg.media.profile = cfg->profile;
  s->cfg.media.stats = cfg->stats;
  s->on_end = on_end;
  s->user = user;
  s->cancel = g_cancellable_new();
  s->trust = (dc_trust){cfg->pin, cfg->insecure, NULL};
  /* 10 s to connect: a highland link's TCP and TLS handshakes may take several seconds */
  s->http = soup_session_new_with_options("timeout", 10, "user-agent", "diemcau-endpoint/" DC_VERSION, NULL);
  return s;
}

void dc_session_start(dc_session *s) {
  if (s->cfg.insecure)
    say("WARNING: --insecure: the bridge's certificate is NOT checked; anyone on the path can listen in");
  GError *err = NULL;
  if (!dc_trust_use_ca(s->http, s->cfg.ca_file, &err)) {
    say("cannot read the CA file %s: %s", s->cfg.ca_file, err->message);
    g_error_free(err);
    end(s, DC_EXIT_USAGE);
    return;
  }
  say("joining meeting %" G_GINT64_FORMAT " at %s as %s (%s profile)", s->cfg.link.meeting, s->cfg.link.host,
      s->cfg.name, s->cfg.profile->name);
  connect_bridge(s);
}

void dc_session_leave(dc_session *s) {
  if (s->ended)
    return;
  s->leaving = true;
  send_text(s, dc_protocol_leave());
  end(s, DC_EXIT_OK);
}

void dc_session_free(dc_session *s) {
  if (!s)
    return;
  if (!s->ended) {
    s->ended = true;
    g_cancellable_cancel(s->cancel);
    drop_connection(s);
  }
  if (s->retry_timer)
    g_source_remove(s->retry_timer);
  g_object_unref(s->cancel);
  g_object_unref(s->http);
  dc_server_msg_clear(&s->roster);
  g_free(s->point);
  g_free(s->trust.refused);
  g_free(s);
}
