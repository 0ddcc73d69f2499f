/* options.h — the daemon's settings, from its flags and its config file's [bridge] section
 * (keys named as the flags; a flag given wins), checked in one place so that every mistake
 * gets one clear message naming the setting and what it wants, before anything starts.
 *
 * The config file is a GKeyFile. Unknown keys and sections are errors, not ignored: a typo
 * ("prot = 8443") would otherwise leave a district's bridge on a default nobody chose. Left
 * out: reloading while running (restart the daemon), settings for the operators' API.
 */
#ifndef DC_OPTIONS_H
#define DC_OPTIONS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  /* as given (flags first, then the config file); NULL or 0 when not */
  char *config, *listen, *public_address, *data_dir, *tls_cert, *tls_key, *log_level, *stun,
      *media_ports, *web_dir, *turn, *time_zone, *metrics_listen, **ice_addresses, **ice_servers, *turn_secret;
  int port, workers, talkers, turn_ttl, big_room;
  gboolean demo, plain_http, no_red, red_always, no_ice_tcp, no_video_fec, no_io_uring, no_silence_filter,
      no_realtime_clock;
  /* parsed by dc_options_check */
  GLogLevelFlags log_threshold; /* the least severe level written */
  unsigned media_port_min, media_port_max; /* 0, 0: any */
  char *stun_host;
  unsigned stun_port;
  char *turn_user, *turn_password, *turn_host; /* turn_host as written: main resolves it */
  unsigned turn_port;
} dc_options;

/* Takes what the config file's text says for each setting not given as a flag. False, with
 * the line's key and what is wrong, for a file that is not a key file, a key or section we
 * do not know, or a value of the wrong kind. `source` names the file in messages. */
bool dc_options_read_config(dc_options *o, const char *text, size_t len, const char *source, GError **error);

/* Checks every setting and parses the compound ones (ranges, HOST:PORT, the TURN relay).
 * False with a message naming the flag for the first that is wrong. */
bool dc_options_check(dc_options *o, GError **error);

void dc_options_clear(dc_options *o);

#endif
