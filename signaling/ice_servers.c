/* ice_servers.c — STUN/TURN URLs and per-participant TURN credentials; see ice_servers.h. */
#include "signaling/ice_servers.h"

#include <stdlib.h>
#include <string.h>

static bool bad(char **why, const char *text, const char *what) {
  if (why)
    *why = g_strdup_printf("\"%.80s\" is not a STUN or TURN URL: %s", text, what);
  return false;
}

static bool host_char(char c) { return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_'; }

bool dc_ice_url_parse(const char *text, dc_ice_url *url, char **why) {
  memset(url, 0, sizeof *url);
  if (!text || strlen(text) > DC_ICE_MAX_URL)
    return bad(why, text ? text : "", "missing or too long");
  const char *p;
  if (!g_ascii_strncasecmp(text, "stun:", 5))
    url->scheme = DC_ICE_STUN, p = text + 5;
  else if (!g_ascii_strncasecmp(text, "turns:", 6))
    url->scheme = DC_ICE_TURNS, p = text + 6, url->tcp = true;
  else if (!g_ascii_strncasecmp(text, "turn:", 5))
    url->scheme = DC_ICE_TURN, p = text + 5;
  else
    return bad(why, text, "it must begin with stun:, turn: or turns:");
  const char *host = p, *host_end;
  if (*p == '[') { /* an IPv6 address (RFC 3986 §3.2.2) */
    host_end = strchr(p, ']');
    if (!host_end)
      return bad(why, text, "an IPv6 address without its ]");
    host++;
    for (const char *c = host; c < host_end; c++)
      if (!g_ascii_isxdigit(*c) && *c != ':' && *c != '.')
        return bad(why, text, "not an IPv6 address within [ ]");
    p = host_end + 1;
  } else {
    while (host_char(*p))
      p++;
    host_end = p;
  }
  if (host_end == host)
    return bad(why, text, "no host (e.g. turn:turn.example.vn:3478?transport=tcp)");
  url->port = url->scheme == DC_ICE_TURNS ? 5349 : 3478;
  if (*p == ':') {
    char *end;
    p++;
    unsigned long port = g_ascii_isdigit(*p) ? strtoul(p, &end, 10) : 0;
    if (!port || port > 65535)
      return bad(why, text, "the port must be 1-65535");
    url->port = (unsigned)port;
    p = end;
  }
  if (*p == '?') {
    if (url->scheme == DC_ICE_STUN)
      return bad(why, text, "a stun: URL takes no ?transport");
    if (!g_ascii_strcasecmp(p, "?transport=tcp"))
      url->tcp = true;
    else if (g_ascii_strcasecmp(p, "?transport=udp") || url->scheme == DC_ICE_TURNS)
      return bad(why, text, url->scheme == DC_ICE_TURNS ? "turns: is TLS over TCP (?transport=tcp or nothing)"
                                                        : "?transport must be udp or tcp");
    p += strlen(p);
  }
  if (*p)
    return bad(why, text, "unexpected text after the host and port");
  url->host = g_strndup(host, (gsize)(host_end - host));
  return true;
}

void dc_ice_url_clear(dc_ice_url *url) {
  g_free(url->host);
  memset(url, 0, sizeof *url);
}

static char *turn_password(const char *secret, const char *username) {
  GHmac *h = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *)secret, strlen(secret));
  g_hmac_update(h, (const guchar *)username, (gssize)strlen(username));
  guint8 digest[20];
  gsize len = sizeof digest;
  g_hmac_get_digest(h, digest, &len);
  g_hmac_unref(h);
  return g_base64_encode(digest, len);
}

size_t dc_ice_servers_mint(const char *const *urls, const char *secret, unsigned ttl_s, const char *who,
                           int64_t now_s, dc_ice_server out[2]) {
  GPtrArray *stun = g_ptr_array_new(), *turn = g_ptr_array_new();
  for (const char *const *u = urls; u && *u; u++) {
    dc_ice_url parsed;
    if (!dc_ice_url_parse(*u, &parsed, NULL))
      continue; /* checked with the settings: never here */
    g_ptr_array_add(parsed.scheme == DC_ICE_STUN ? stun : turn, g_strdup(*u));
    dc_ice_url_clear(&parsed);
  }
  g_ptr_array_add(stun, NULL);
  g_ptr_array_add(turn, NULL);
  char **stun_urls = (char **)g_ptr_array_free(stun, FALSE), **turn_urls = (char **)g_ptr_array_free(turn, FALSE);
  size_t n = 0;
  if (*stun_urls)
    out[n++] = (dc_ice_server){.urls = stun_urls};
  else
    g_strfreev(stun_urls);
  if (*turn_urls && secret && *secret) {
    char *username = g_strdup_printf("%" G_GINT64_FORMAT ":%s", now_s + (int64_t)ttl_s, who);
    out[n++] = (dc_ice_server){.urls = turn_urls, .username = username, .credential = turn_password(secret, username)};
  } else {
    g_strfreev(turn_urls); /* without the secret, no credentials: the relay is not offered */
  }
  return n;
}

void dc_ice_server_clear(dc_ice_server *server) {
  g_strfreev(server->urls);
  g_free(server->username);
  if (server->credential)
    memset(server->credential, 0, strlen(server->credential));
  g_free(server->credential);
  memset(server, 0, sizeof *server);
}

char *dc_ice_url_for_gstreamer(const dc_ice_url *url, const char *username, const char *credential) {
  bool v6 = strchr(url->host, ':') != NULL;
  char *host = g_strdup_printf(v6 ? "[%s]:%u" : "%s:%u", url->host, url->port);
  char *out;
  if (url->scheme == DC_ICE_STUN) {
    out = g_strdup_printf("stun://%s", host);
  } else {
    /* webrtcbin splits user from password at the first ':' and unescapes each; the
     * username has a ':' of its own and the password base64's '+', '/' and '=' */
    char *user = g_uri_escape_string(username ? username : "", NULL, FALSE);
    char *pass = g_uri_escape_string(credential ? credential : "", NULL, FALSE);
    out = g_strdup_printf("%s://%s:%s@%s%s", url->scheme == DC_ICE_TURNS ? "turns" : "turn", user, pass, host,
                          url->scheme == DC_ICE_TURNS ? "" : url->tcp ? "?transport=tcp" : "?transport=udp");
    g_free(user);
    if (pass)
      memset(pass, 0, strlen(pass));
    g_free(pass);
  }
  g_free(host);
  return out;
}
