/* options.c — the daemon's settings, checked once; see options.h. */
#include "bridge/options.h"

#include "signaling/ice_servers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTIONS_ERROR g_quark_from_static_string("dc-options")

typedef enum { KEY_STRING, KEY_LIST, KEY_INT, KEY_BOOL } key_kind;

static bool fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fail(GError **error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, OPTIONS_ERROR, 0, text);
  g_free(text);
  return false;
}

/* The setting a config key fills: where it goes in dc_options and what kind it is. */
static void *slot_of(dc_options *o, const char *key, key_kind *kind) {
  static const struct {
    const char *key;
    key_kind kind;
    size_t offset;
  } keys[] = {
      {"listen", KEY_STRING, offsetof(dc_options, listen)},
      {"public-address", KEY_STRING, offsetof(dc_options, public_address)},
      {"data-dir", KEY_STRING, offsetof(dc_options, data_dir)},
      {"tls-cert", KEY_STRING, offsetof(dc_options, tls_cert)},
      {"tls-key", KEY_STRING, offsetof(dc_options, tls_key)},
      {"log-level", KEY_STRING, offsetof(dc_options, log_level)},
      {"stun", KEY_STRING, offsetof(dc_options, stun)},
      {"turn", KEY_STRING, offsetof(dc_options, turn)},
      {"media-ports", KEY_STRING, offsetof(dc_options, media_ports)},
      {"web-dir", KEY_STRING, offsetof(dc_options, web_dir)},
      {"time-zone", KEY_STRING, offsetof(dc_options, time_zone)},
      {"metrics-listen", KEY_STRING, offsetof(dc_options, metrics_listen)},
      {"ice-address", KEY_LIST, offsetof(dc_options, ice_addresses)},
      {"ice-server", KEY_LIST, offsetof(dc_options, ice_servers)},
      {"turn-secret", KEY_STRING, offsetof(dc_options, turn_secret)},
      {"turn-ttl", KEY_INT, offsetof(dc_options, turn_ttl)},
      {"port", KEY_INT, offsetof(dc_options, port)},
      {"workers", KEY_INT, offsetof(dc_options, workers)},
      {"talkers", KEY_INT, offsetof(dc_options, talkers)},
      {"big-room", KEY_INT, offsetof(dc_options, big_room)},
      {"no-red", KEY_BOOL, offsetof(dc_options, no_red)},
      {"no-video-fec", KEY_BOOL, offsetof(dc_options, no_video_fec)},
      {"red-always", KEY_BOOL, offsetof(dc_options, red_always)},
      {"no-ice-tcp", KEY_BOOL, offsetof(dc_options, no_ice_tcp)},
      {"no-io-uring", KEY_BOOL, offsetof(dc_options, no_io_uring)},
      {"no-silence-filter", KEY_BOOL, offsetof(dc_options, no_silence_filter)},
      {"no-realtime-clock", KEY_BOOL, offsetof(dc_options, no_realtime_clock)},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
    if (!strcmp(keys[i].key, key)) {
      *kind = keys[i].kind;
      return (char *)o + keys[i].offset;
    }
  return NULL;
}

bool dc_options_read_config(dc_options *o, const char *text, size_t len, const char *source, GError **error) {
  GKeyFile *kf = g_key_file_new();
  GError *err = NULL;
  bool ok = g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &err);
  if (!ok)
    fail(error, "config %s: %s", source, err->message);
  g_clear_error(&err);
  char **groups = ok ? g_key_file_get_groups(kf, NULL) : NULL;
  for (char **g = groups; ok && *g; g++)
    if (strcmp(*g, "bridge"))
      ok = fail(error, "config %s: unknown section [%s] (the settings go in [bridge])", source, *g);
  char **keys = ok ? g_key_file_get_keys(kf, "bridge", NULL, NULL) : NULL;
  for (char **k = keys; ok && k && *k; k++) {
    key_kind kind;
    void *slot = slot_of(o, *k, &kind);
    if (!slot) {
      ok = fail(error, "config %s: unknown key \"%s\" in [bridge] (see diemcau-bridge --help for the names)", source, *k);
      break;
    }
    switch (kind) {
    case KEY_STRING:
      if (!*(char **)slot)
        *(char **)slot = g_key_file_get_string(kf, "bridge", *k, &err);
      break;
    case KEY_LIST:
      if (!*(char ***)slot)
        *(char ***)slot = g_key_file_get_string_list(kf, "bridge", *k, NULL, &err);
      break;
    case KEY_INT: {
      int v = g_key_file_get_integer(kf, "bridge", *k, &err);
      if (!err && !*(int *)slot)
        *(int *)slot = v;
      break;
    }
    case KEY_BOOL: {
      gboolean v = g_key_file_get_boolean(kf, "bridge", *k, &err);
      if (!err && !*(gboolean *)slot)
        *(gboolean *)slot = v;
      break;
    }
    }
    if (err) {
      const char *want = kind == KEY_INT ? "a whole number" : kind == KEY_BOOL ? "true or false" : "text";
      ok = fail(error, "config %s: \"%s\" must be %s", source, *k, want);
      g_clear_error(&err);
    }
  }
  g_strfreev(keys);
  g_strfreev(groups);
  g_key_file_free(kf);
  return ok;
}

/* "1-65535" as a port, or false. */
static bool parse_port(const char *s, unsigned *port) {
  char *end;
  if (!*s || !g_ascii_isdigit(*s))
    return false;
  unsigned long v = strtoul(s, &end, 10);
  if (*end || v < 1 || v > 65535)
    return false;
  *port = (unsigned)v;
  return true;
}

static bool is_ip(const char *s) { return s && *s && g_hostname_is_ip_address(s); }

static bool parse_log_level(const char *s, GLogLevelFlags *out) {
  static const struct {
    const char *name;
    GLogLevelFlags level;
  } levels[] = {{"error", G_LOG_LEVEL_CRITICAL}, {"warning", G_LOG_LEVEL_WARNING},
                {"info", G_LOG_LEVEL_MESSAGE},   {"debug", G_LOG_LEVEL_DEBUG}};
  for (size_t i = 0; i < G_N_ELEMENTS(levels); i++)
    if (!g_ascii_strcasecmp(s, levels[i].name)) {
      *out = levels[i].level;
      return true;
    }
  return false;
}

bool dc_options_check(dc_options *o, GError **error) {
  o->log_threshold = G_LOG_LEVEL_MESSAGE;
  if (o->log_level && !parse_log_level(o->log_level, &o->log_threshold))
    return fail(error, "--log-level must be error, warning, info or debug, not \"%.40s\"", o->log_level);
  if (o->port < 0 || o->port > 65535)
    return fail(error, "--port must be 1-65535");
  if (o->no_red && o->red_always)
    return fail(error, "--no-red and --red-always contradict each other: choose one");
  if (o->workers < 0 || o->workers > 256)
    return fail(error, "--workers must be 1-256 (or left out: one per core)");
  if (o->talkers < 0 || o->talkers > 8)
    return fail(error, "--talkers must be 1-8");
  if (o->big_room < 0 || o->big_room == 1 || o->big_room > 100000)
    return fail(error, "--big-room must be 2-100000 points (more than a meeting holds: never)");
  if (o->listen && !is_ip(o->listen))
    return fail(error, "--listen must be an IP address of this machine (or :: for all, 0.0.0.0 for all IPv4 ones), not \"%.60s\"", o->listen);
  if (o->public_address && !is_ip(o->public_address))
    return fail(error, "--public-address must be an IP address, not \"%.60s\"", o->public_address);
  for (char **a = o->ice_addresses; a && *a; a++)
    if (!is_ip(*a))
      return fail(error, "--ice-address must be an IP address of this machine, not \"%.60s\"", *a);
  if (o->media_ports) {
    char *dash = strchr(o->media_ports, '-');
    char *low = dash ? g_strndup(o->media_ports, (gsize)(dash - o->media_ports)) : NULL;
    bool ok = dash && parse_port(low, &o->media_port_min) && parse_port(dash + 1, &o->media_port_max);
    g_free(low);
    if (!ok)
      return fail(error, "--media-ports wants MIN-MAX, e.g. 40000-40999");
    if (o->media_port_min < 1024 || o->media_port_min > o->media_port_max)
      return fail(error, "--media-ports must be a range within 1024-65535");
  }
  if (o->stun) {
    char *colon = strrchr(o->stun, ':');
    o->stun_port = 3478;
    if ((colon && !parse_port(colon + 1, &o->stun_port)) || colon == o->stun || !*o->stun)
      return fail(error, "--stun wants HOST or HOST:PORT");
    o->stun_host = colon ? g_strndup(o->stun, (gsize)(colon - o->stun)) : g_strdup(o->stun);
  }
  if (o->turn) {
    /* USER:PASSWORD@HOST:PORT; the user holds no ':', the host no '@' */
    char *at = strrchr(o->turn, '@'), *colon = at ? memchr(o->turn, ':', (size_t)(at - o->turn)) : NULL;
    char *port_sep = at ? strrchr(at, ':') : NULL;
    if (!at || !colon || colon == o->turn || !port_sep || port_sep == at + 1 || !parse_port(port_sep + 1, &o->turn_port))
      return fail(error, "--turn wants USER:PASSWORD@HOST:PORT");
    o->turn_user = g_strndup(o->turn, (gsize)(colon - o->turn));
    o->turn_password = g_strndup(colon + 1, (gsize)(at - colon - 1));
    o->turn_host = g_strndup(at + 1, (gsize)(port_sep - at - 1));
  }
  bool any_turn = false;
  for (char **u = o->ice_servers; u && *u; u++) {
    dc_ice_url url;
    char *why = NULL;
    if (!dc_ice_url_parse(*u, &url, &why)) {
      fail(error, "--ice-server: %s (e.g. stun:stun.example.vn:3478, turn:turn.example.vn:3478?transport=tcp, "
                  "turns:turn.example.vn:443)", why);
      g_free(why);
      return false;
    }
    any_turn |= url.scheme != DC_ICE_STUN;
    dc_ice_url_clear(&url);
  }
  if (g_strv_length(o->ice_servers ? o->ice_servers : (char *[]){NULL}) > DC_ICE_MAX_URLS)
    return fail(error, "--ice-server: at most %d", DC_ICE_MAX_URLS);
  if (any_turn && (!o->turn_secret || !*o->turn_secret))
    return fail(error, "a TURN server in --ice-server needs --turn-secret: the TURN server's shared secret "
                       "(coturn: use-auth-secret, static-auth-secret=...), best put in the config file");
  if (o->turn_secret && !any_turn)
    return fail(error, "--turn-secret is set but no --ice-server is a turn: or turns: URL to use it with");
  if (o->turn_ttl && (o->turn_ttl < 600 || o->turn_ttl > 7 * 86400))
    return fail(error, "--turn-ttl must be 600-604800 seconds (how long a participant's TURN credentials last; "
                       "default 43200, a long meeting's day)");
  if (o->metrics_listen) {
    char *colon = strrchr(o->metrics_listen, ':');
    unsigned port;
    char *addr = colon ? g_strndup(o->metrics_listen, (gsize)(colon - o->metrics_listen)) : NULL;
    bool ok = colon && is_ip(addr) && parse_port(colon + 1, &port);
    g_free(addr);
    if (!ok)
      return fail(error, "--metrics-listen wants ADDR:PORT, e.g. 10.0.0.5:9464");
  }
  if (o->time_zone) {
    GTimeZone *tz = g_time_zone_new_identifier(o->time_zone);
    if (!tz)
      return fail(error, "--time-zone must be an IANA name such as Asia/Ho_Chi_Minh, not \"%.60s\"", o->time_zone);
    g_time_zone_unref(tz);
  }
  if (!o->tls_cert != !o->tls_key)
    return fail(error, "--tls-cert and --tls-key go together");
  return true;
}

void dc_options_clear(dc_options *o) {
  g_free(o->config), g_free(o->listen), g_free(o->public_address), g_free(o->data_dir);
  g_free(o->tls_cert), g_free(o->tls_key), g_free(o->log_level), g_free(o->stun);
  g_free(o->media_ports), g_free(o->web_dir), g_free(o->turn), g_free(o->time_zone);
  g_free(o->metrics_listen);
  g_strfreev(o->ice_addresses);
  g_strfreev(o->ice_servers);
  if (o->turn_secret)
    memset(o->turn_secret, 0, strlen(o->turn_secret));
  g_free(o->turn_secret);
  g_free(o->stun_host), g_free(o->turn_user), g_free(o->turn_password), g_free(o->turn_host);
  memset(o, 0, sizeof *o);
}
