/* profile.c — link profiles, join links, the slot grid and the backoff; see profile.h. */
#include "endpoint/profile.h"

#include <gio/gio.h>
#include <stdlib.h>
#include <string.h>

static const dc_profile profiles[] = {
    /* the hall: a wired district link, big screen. Hall and standard wait 100 ms for a late
     * packet until the mix's loss is known, then what its lateness asks: on a steady link the
     * 20 ms frame, a few ms and 20 (50 ms; the hall then hears a commune 50 ms sooner) */
    {"hall", 48000, 20, false, false, 0, 1280, 720, 30, 1500000, 4, 3, 0, 100, 100},
    {"standard", 32000, 20, true, false, 10, 640, 360, 15, 500000, 3, 1, 0, 100, 100},
    /* 64-256 kbit/s, lossy: 60 ms frames halve the packet overhead, FEC and DTX; one slot;
     * the camera's own parity while the bridge loses its packets (media.h). The audio waits
     * 260 ms from the start, and the join says so: where the mix's packets are lost in runs
     * (a radio link's fades) the copies then come three packets (180 ms) after their frames,
     * which repairs a run of three lost whole. On the radio link (runs of three on average)
     * 260 ms with copies three back played 93.4-97.4 % of frames where 200 ms with copies two
     * back played 91.8-94.7 (README, the link lab). Once the loss is seen to come alone or not
     * at all it waits what the bridge's copy of a frame in the next packet needs, in a pause
     * of the sound, and says so: 60 ms, how much later than the earliest the mix's packets
     * come, and 20, up to 140 (dc_profile_lone_wait_ms; 140 is the frame and media/mixer.h
     * dc_mixer_red_reach_policy's 80 for the link's jitter, and the wait while the lateness
     * is not known). Starting low and raising on runs cost the radio link its first ~15 s
     * (README); this way a point pays the longer wait only until its loss is known, ~25 s.
     * (libopus 1.3.1 adds no in-band FEC to 60 ms frames at this rate, whatever the expected
     * loss: it takes 18 kbit/s. The flag costs nothing.) */
    {"highland", 14000, 60, true, true, 15, 320, 180, 10, 80000, 1, 1, 20, 140, 260},
};

void dc_loss_runs_packet(dc_loss_runs *r, uint16_t seq, int64_t now_us) {
  if (!r->started) {
    r->started = true;
    r->last_seq = seq;
    r->count_from_us = now_us + DC_LOSS_RUNS_SETTLE_US;
    return;
  }
  uint16_t ahead = (uint16_t)(seq - r->last_seq);
  if (ahead == 0)
    return;
  if (ahead >= 0x8000) { /* came late, after its gap was counted: the gap was shorter */
    if (r->gap_packets > r->gaps)
      r->gap_packets--;
    return;
  }
  if (ahead > 1 && ahead - 1u <= DC_LOSS_RUN_MAX && now_us >= r->count_from_us) {
    r->gaps++;
    r->gap_packets += ahead - 1u;
    if (r->gaps > DC_LOSS_RUNS_KEPT)
      r->gaps /= 2, r->gap_packets /= 2;
  }
  r->last_seq = seq;
}

bool dc_loss_runs_found(const dc_loss_runs *r) {
  return r->gaps >= DC_LOSS_RUNS_MIN && (uint64_t)r->gap_packets * 10 >= (uint64_t)r->gaps * 16;
}

bool dc_loss_runs_seen_lone(const dc_loss_runs *r, int64_t now_us) {
  if (!r->started || dc_loss_runs_found(r) || now_us < r->count_from_us + DC_LOSS_RUNS_JUDGE_US)
    return false;
  bool clear = r->gaps == 0 || (r->gaps >= DC_LOSS_RUNS_LONE_MIN && (uint64_t)r->gap_packets * 10 < (uint64_t)r->gaps * 13);
  return clear || now_us >= r->count_from_us + 2 * (int64_t)DC_LOSS_RUNS_JUDGE_US;
}

void dc_delay_spread_packet(dc_delay_spread *s, uint32_t rtp_ts, int clock_rate, int64_t now_us) {
  if (clock_rate <= 0)
    return;
  if (!s->started) {
    s->started = true;
    s->last_ts = rtp_ts;
    s->ts = 0;
    s->count_from_us = now_us + DC_LOSS_RUNS_SETTLE_US;
    return;
  }
  s->ts += (int32_t)(rtp_ts - s->last_ts); /* wraps; a late packet steps back */
  s->last_ts = rtp_ts;
  if (now_us < s->count_from_us)
    return;
  int64_t delay_us = now_us - s->ts * G_USEC_PER_SEC / clock_rate;
  int64_t before_us = s->delay_us[(s->next + DC_DELAY_SPREAD_KEPT - 1) % DC_DELAY_SPREAD_KEPT];
  if (s->n && llabs(delay_us - before_us) >= DC_DELAY_SPREAD_JUMP_US)
    s->n = s->next = 0;
  s->delay_us[s->next] = delay_us;
  s->next = (s->next + 1) % DC_DELAY_SPREAD_KEPT;
  s->n = MIN(s->n + 1, DC_DELAY_SPREAD_KEPT);
}

static int compare_delays(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int dc_delay_spread_ms(const dc_delay_spread *s) {
  if (s->n < DC_DELAY_SPREAD_MIN)
    return -1;
  int64_t sorted[DC_DELAY_SPREAD_KEPT];
  memcpy(sorted, s->delay_us, s->n * sizeof *sorted);
  qsort(sorted, s->n, sizeof *sorted, compare_delays);
  int64_t spread_us = sorted[(s->n - 1) * DC_DELAY_SPREAD_PERCENTILE / 100] - sorted[0];
  return (int)((spread_us + 999) / 1000);
}

int dc_profile_lone_wait_ms(const dc_profile *p, int spread_ms) {
  if (spread_ms < 0)
    return p->audio_wait_ms;
  int ms = p->audio_frame_ms + spread_ms + DC_DELAY_SPREAD_MARGIN_MS;
  ms = (ms + 9) / 10 * 10;
  return MIN(ms, p->audio_wait_ms);
}

int dc_profile_lone_wait_raised(const dc_profile *p, int wait_ms, int spread_ms) {
  int ms = dc_profile_lone_wait_ms(p, spread_ms);
  return spread_ms >= 0 && ms >= wait_ms + DC_WAIT_RAISE_MS ? ms : 0;
}

int dc_profile_lone_wait_lowered(const dc_profile *p, int wait_ms, int spread_ms) {
  int ms = dc_profile_lone_wait_ms(p, spread_ms);
  return spread_ms >= 0 && ms <= wait_ms - DC_WAIT_LOWER_MS ? ms : 0;
}

int dc_lone_wait_follow(dc_lone_wait *w, const dc_profile *p, int wait_ms, const dc_delay_spread *s, int64_t now_us,
                        bool in_a_pause) {
  int64_t hold_us = w->unheld ? 0 : DC_WAIT_LOWER_HOLD_US;
  if (now_us >= w->next_check_us) {
    w->next_check_us = now_us + DC_WAIT_CHECK_US;
    int spread_ms = dc_delay_spread_ms(s);
    int raised = dc_profile_lone_wait_raised(p, wait_ms, spread_ms);
    bool less = !raised && dc_profile_lone_wait_lowered(p, wait_ms, spread_ms);
    if (less && !w->asks_less)
      w->asked_less_from_us = now_us;
    w->asks_less = less;
    w->lower_due = less && now_us >= w->asked_less_from_us + hold_us;
    if (raised) {
      w->unheld = false;
      return raised;
    }
  }
  if (!w->lower_due || !(in_a_pause || now_us >= w->asked_less_from_us + hold_us + DC_WAIT_PAUSE_AWAITED_US))
    return 0;
  w->asks_less = w->lower_due = w->unheld = false;
  return dc_profile_lone_wait_lowered(p, wait_ms, dc_delay_spread_ms(s));
}

void dc_lone_wait_judged(dc_lone_wait *w, int wait_ms, int before_ms) { w->unheld = wait_ms == before_ms; }

bool dc_lone_wait_lowering(const dc_lone_wait *w) { return w->lower_due; }

const dc_profile *dc_profile_find(const char *name) {
  for (size_t i = 0; name && i < G_N_ELEMENTS(profiles); i++)
    if (!strcmp(profiles[i].name, name))
      return &profiles[i];
  return NULL;
}

dc_layer dc_profile_layer(const dc_profile *p, int i) {
  int n = CLAMP(p->layers, 1, DC_MAX_LAYERS);
  i = CLAMP(i, 0, n - 1);
  if (i == n - 1)
    return (dc_layer){p->video_width, p->video_height, p->video_fps, p->video_bps};
  static const dc_layer below[DC_MAX_LAYERS - 1] = {{320, 180, 10, 80000}, {640, 360, 15, 400000}};
  return below[i];
}

const char *dc_profile_names(void) { return "hall, standard or highland"; }

bool dc_join_link_parse(const char *link, dc_join_link *out, GError **error) {
  memset(out, 0, sizeof *out);
  GError *err = NULL;
  GUri *uri = g_uri_parse(link, G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_ENCODED_FRAGMENT, &err);
  if (!uri) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a link: %s", err->message);
    g_error_free(err);
    return false;
  }
  const char *scheme = g_uri_get_scheme(uri), *host = g_uri_get_host(uri), *query = g_uri_get_query(uri);
  bool tls = !g_ascii_strcasecmp(scheme, "https");
  GHashTable *params = NULL;
  bool ok = false;
  if (!tls && g_ascii_strcasecmp(scheme, "http")) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a join link starts with https://, not %s://", scheme);
    goto out;
  }
  const char *fragment = g_uri_get_fragment(uri);
  if (!host || !*host || strcmp(g_uri_get_path(uri), "/join") || (!query && !fragment)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "not a join link: it looks like https://BRIDGE:8443/join#meeting=1&token=...");
    goto out;
  }
  /* The bridge puts everything in the fragment (never sent to a server: the token is in no log
   * or Referer, and every meeting's page is the one URL a browser keeps); links made before
   * carry the meeting, the profile or the token in the query, and still work. The fragment's
   * values win, as on the page (app.js). */
  params = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  const char *parts[] = {query, fragment};
  for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
    GHashTable *part = parts[i] ? g_uri_parse_params(parts[i], -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
    if (!part)
      continue;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, part);
    while (g_hash_table_iter_next(&it, &k, &v))
      g_hash_table_replace(params, g_strdup(k), g_strdup(v));
    g_hash_table_unref(part);
  }
  const char *meeting = g_hash_table_lookup(params, "meeting");
  const char *token = g_hash_table_lookup(params, "token");
  guint64 id = 0;
  if (!meeting || !g_ascii_string_to_unsigned(meeting, 10, 1, G_MAXINT64, &id, NULL) || !token || !*token ||
      strlen(token) > 256) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "the join link lacks its meeting number or token: copy the whole link");
    goto out;
  }
  int port = g_uri_get_port(uri);
  /* an IPv6 literal needs its brackets back in the URL */
  const char *lb = strchr(host, ':') ? "[" : "", *rb = strchr(host, ':') ? "]" : "";
  out->ws_url = port > 0 ? g_strdup_printf("%s://%s%s%s:%d/ws", tls ? "wss" : "ws", lb, host, rb, port)
                         : g_strdup_printf("%s://%s%s%s/ws", tls ? "wss" : "ws", lb, host, rb);
  out->host = g_strdup(host);
  out->meeting = (int64_t)id;
  out->token = g_strdup(token);
  const char *profile = g_hash_table_lookup(params, "profile");
  out->profile = profile ? dc_profile_find(profile) : NULL;
  ok = true;
out:
  if (params)
    g_hash_table_unref(params);
  g_uri_unref(uri);
  return ok;
}

void dc_join_link_clear(dc_join_link *l) {
  g_free(l->ws_url);
  g_free(l->host);
  if (l->token)
    memset(l->token, 0, strlen(l->token)); /* a secret: do not leave it in freed memory */
  g_free(l->token);
  memset(l, 0, sizeof *l);
}

/* 16:9 inside w × h, centred. */
static dc_tile fit(int x, int y, int w, int h) {
  int tw = w, th = w * 9 / 16;
  if (th > h)
    th = h, tw = h * 16 / 9;
  return (dc_tile){x + (w - tw) / 2, y + (h - th) / 2, tw, th};
}

void dc_grid_layout(int n, int width, int height, dc_tile *tiles) {
  n = CLAMP(n, 1, 9);
  if (n == 1) {
    tiles[0] = fit(0, 0, width, height);
    return;
  }
  int rows = n - 1, side = width / 4; /* thumbnails take a quarter of the width */
  tiles[0] = fit(0, 0, width - side, height);
  for (int i = 1; i < n; i++)
    tiles[i] = fit(width - side, (i - 1) * height / rows, side, height / rows);
}

unsigned dc_backoff_ms(unsigned attempt, unsigned max_ms, double jitter) {
  double base = 500.0;
  for (unsigned i = 0; i < attempt && base < max_ms; i++)
    base *= 2;
  if (base > max_ms)
    base = max_ms;
  double j = CLAMP(jitter, 0.0, 1.0);
  return (unsigned)(base * (0.8 + 0.4 * j));
}

/* ---- certificates ---- */

char *dc_certificate_fingerprint(GTlsCertificate *cert) {
  GByteArray *der = NULL;
  g_object_get(cert, "certificate", &der, NULL);
  if (!der)
    return g_strdup("?");
  guint8 digest[32];
  gsize len = sizeof digest;
  GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
  g_checksum_update(c, der->data, der->len);
  g_checksum_get_digest(c, digest, &len);
  g_checksum_free(c);
  g_byte_array_unref(der);
  GString *out = g_string_new(NULL);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf(out, "%s%02X", i ? ":" : "", digest[i]);
  return g_string_free(out, FALSE);
}

bool dc_fingerprint_matches(const char *pin, const char *fp) {
  if (!pin || !fp)
    return false;
  for (;;) {
    while (*pin == ':')
      pin++;
    while (*fp == ':')
      fp++;
    if (!*pin || !*fp)
      return !*pin && !*fp;
    if (g_ascii_toupper(*pin) != g_ascii_toupper(*fp))
      return false;
    pin++, fp++;
  }
}
