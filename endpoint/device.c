/* device.c — unattended mode; see device.h. */
#include "endpoint/device.h"

#include <libsoup/soup.h>
#include <string.h>

#include "signaling/protocol.h"

#define BACKOFF_MAX_MS 1000

struct dc_device {
  dc_device_config cfg;
  void (*on_end)(int code, void *user);
  void *user;
  SoupSession *http;
  GCancellable *cancel;
  dc_trust trust;
  guint timer;
  unsigned failures;
  dc_session *session;
  dc_join_link link;  /* the session's; lives as long as it does */
  int session_code;
  char *last_state;   /* what we last said about waiting, so it is said once */
  bool ended, stopping;
};

static void ask(dc_device *d);

#define say dc_endpoint_say

static void say_once(dc_device *d, char *text) {
  if (g_strcmp0(d->last_state, text))
    say("%s", text);
  g_free(d->last_state);
  d->last_state = text;
}

static void end(dc_device *d, int code) {
  if (d->ended)
    return;
  d->ended = true;
  if (d->timer)
    g_source_remove(d->timer), d->timer = 0;
  g_cancellable_cancel(d->cancel);
  d->on_end(code, d->user);
}

static gboolean ask_now(gpointer data) {
  dc_device *d = data;
  d->timer = 0;
  ask(d);
  return G_SOURCE_REMOVE;
}

static void ask_in(dc_device *d, unsigned ms) {
  if (!d->ended && !d->timer)
    d->timer = g_timeout_add(ms, ask_now, d);
}

/* ---- the meeting ---- */

static gboolean after_session(gpointer data) {
  dc_device *d = data;
  int code = d->session_code;
  dc_session_free(d->session);
  d->session = NULL;
  dc_join_link_clear(&d->link);
  if (d->stopping) {
    end(d, DC_EXIT_OK);
    return G_SOURCE_REMOVE;
  }
  switch (code) {
  case DC_EXIT_CERTIFICATE:
  case DC_EXIT_FAILURE: /* the media cannot run here (no device?): let the service manager see it */
  case DC_EXIT_USAGE:
    end(d, code);
    break;
  default: /* the meeting ended, or the link was refused: ask which meeting is open now */
    g_clear_pointer(&d->last_state, g_free);
    ask_in(d, 1000);
  }
  return G_SOURCE_REMOVE;
}

static void on_session_end(int code, void *user) {
  dc_device *d = user;
  d->session_code = code;
  g_idle_add(after_session, d); /* not from inside the session's own call */
}

static void join(dc_device *d, const dc_device_status *st) {
  GError *err = NULL;
  if (!dc_join_link_parse(st->join_link, &d->link, &err)) {
    say("the bridge gave a join link that is not one (%s); asking again", err->message);
    g_error_free(err);
    ask_in(d, BACKOFF_MAX_MS);
    return;
  }
  /* Talk to the bridge where this box reaches it: the link names the bridge's public
   * address, which a box inside the district's network may not reach. */
  g_free(d->link.ws_url);
  d->link.ws_url = g_strdup_printf("%s%s/ws", g_str_has_prefix(d->cfg.bridge_url, "https:") ? "wss" : "ws",
                                   strchr(d->cfg.bridge_url, ':'));
  say("meeting %" G_GINT64_FORMAT " \"%s\" is open for %s: joining", st->meeting_id, st->title, st->point_name);
  dc_session_config cfg = d->cfg.session;
  cfg.link = d->link;
  cfg.give_up_after_s = 0; /* a box never gives up on its meeting */
  cfg.leave_when_ended = true;
  d->session = dc_session_new(&cfg, on_session_end, d);
  dc_session_start(d->session);
}

/* ---- asking the bridge ---- */

static void on_answer(GObject *source, GAsyncResult *res, gpointer data) {
  dc_device *d = data;
  GError *err = NULL;
  GBytes *body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &err);
  if (!body && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_error_free(err);
    return;
  }
  SoupMessage *msg = g_object_get_data(G_OBJECT(source), "dc-message");
  guint status = msg ? soup_message_get_status(msg) : 0;
  g_object_set_data(G_OBJECT(source), "dc-message", NULL);
  if (!body) {
    if (d->trust.refused) {
      dc_trust_explain(&d->trust);
      g_error_free(err);
      end(d, DC_EXIT_CERTIFICATE);
      return;
    }
    unsigned delay = dc_backoff_ms(d->failures++, BACKOFF_MAX_MS, g_random_double());
    say_once(d, g_strdup_printf("cannot reach the bridge at %s: %s; asking again every %.1f s or less", d->cfg.bridge_url,
                                err->message, BACKOFF_MAX_MS * 1.2 / 1000));
    g_error_free(err);
    ask_in(d, delay);
    return;
  }
  d->failures = 0;
  gsize len;
  const char *text = g_bytes_get_data(body, &len);
  if (status == SOUP_STATUS_UNAUTHORIZED) {
    say("the bridge does not know this device key (ask the operator for the point's key: "
        "POST /api/points/ID/device-key)");
    g_bytes_unref(body);
    end(d, DC_EXIT_REFUSED);
    return;
  }
  dc_device_status st;
  char *why = NULL;
  if (status != SOUP_STATUS_OK || !dc_protocol_parse_device_status(text ? text : "", len, &st, &why)) {
    say_once(d, g_strdup_printf("the bridge's device API answered %u%s%s; asking again", status, why ? ": " : "",
                                why ? why : ""));
    g_free(why);
    g_bytes_unref(body);
    ask_in(d, d->cfg.poll_s * 1000);
    return;
  }
  g_bytes_unref(body);
  if (st.meeting_id && st.join_link) {
    g_clear_pointer(&d->last_state, g_free);
    join(d, &st);
  } else {
    if (st.next_id) {
      GDateTime *at = g_date_time_new_from_unix_local(st.next_starts_at);
      char *when = at ? g_date_time_format(at, "%Y-%m-%d %H:%M") : g_strdup("?");
      say_once(d, g_strdup_printf("no meeting open for %s; the next, \"%s\", begins at %s", st.point_name,
                                  st.next_title, when));
      g_free(when);
      if (at)
        g_date_time_unref(at);
    } else {
      say_once(d, g_strdup_printf("no meeting open or scheduled for %s; waiting", st.point_name));
    }
    /* ask again sooner when the next one is about to begin */
    int64_t until = st.next_id ? st.next_starts_at - st.now : G_MAXINT64;
    unsigned ms = until > 0 && until < d->cfg.poll_s ? (unsigned)until * 1000 + 200 : d->cfg.poll_s * 1000;
    ask_in(d, ms);
  }
  dc_device_status_clear(&st);
}

static void ask(dc_device *d) {
  if (d->ended || d->session)
    return;
  char *url = g_strdup_printf("%s/api/device/meeting", d->cfg.bridge_url);
  SoupMessage *msg = soup_message_new(SOUP_METHOD_GET, url);
  g_free(url);
  if (!msg) {
    say("cannot use the bridge address %s (it looks like https://BRIDGE:8443)", d->cfg.bridge_url);
    end(d, DC_EXIT_USAGE);
    return;
  }
  char *auth = g_strconcat("Device ", d->cfg.device_key, NULL);
  soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", auth);
  memset(auth, 0, strlen(auth));
  g_free(auth);
  g_clear_pointer(&d->trust.refused, g_free);
  g_signal_connect(msg, "accept-certificate", G_CALLBACK(dc_trust_accept), &d->trust);
  g_object_set_data_full(G_OBJECT(d->http), "dc-message", g_object_ref(msg), g_object_unref);
  soup_session_send_and_read_async(d->http, msg, G_PRIORITY_DEFAULT, d->cancel, on_answer, d);
  g_object_unref(msg);
}

/* ---- life ---- */

dc_device *dc_device_new(const dc_device_config *cfg, void (*on_end)(int code, void *user), void *user) {
  dc_device *d = g_new0(dc_device, 1);
  d->cfg = *cfg;
  if (!d->cfg.poll_s)
    d->cfg.poll_s = 3;
  d->on_end = on_end;
  d->user = user;
  d->cancel = g_cancellable_new();
  d->trust = (dc_trust){cfg->session.pin, cfg->session.insecure, NULL};
  d->http = soup_session_new_with_options("timeout", 10, "user-agent", "diemcau-endpoint/" DC_VERSION, NULL);
  return d;
}

void dc_device_start(dc_device *d) {
  GError *err = NULL;
  if (!dc_trust_use_ca(d->http, d->cfg.session.ca_file, &err)) {
    say("cannot read the CA file %s: %s", d->cfg.session.ca_file, err->message);
    g_error_free(err);
    end(d, DC_EXIT_USAGE);
    return;
  }
  if (d->cfg.session.insecure)
    say("WARNING: insecure: the bridge's certificate is NOT checked; anyone on the path can listen in");
  say("unattended: asking %s which meeting this point may join", d->cfg.bridge_url);
  ask(d);
}

void dc_device_stop(dc_device *d) {
  d->stopping = true;
  if (d->session)
    dc_session_leave(d->session); /* ends it: after_session ends us */
  else
    end(d, DC_EXIT_OK);
}

void dc_device_free(dc_device *d) {
  if (!d)
    return;
  if (d->timer)
    g_source_remove(d->timer);
  g_cancellable_cancel(d->cancel);
  dc_session_free(d->session);
  dc_join_link_clear(&d->link);
  g_object_unref(d->cancel);
  g_object_unref(d->http);
  g_free(d->trust.refused);
  g_free(d->last_state);
  g_free(d);
}
