/* main.c — diemcau-bridge: the daemon a district IT office runs. Parses flags and the
 * config file, prepares the data directory (store, TLS certificate), starts the media
 * workers, the bridge and the HTTPS/WSS server, and stops them cleanly on SIGINT/SIGTERM.
 * --demo adds a demo meeting with two invitations and prints their join links. */
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bridge/options.h"
#include "bridge/recorder.h"
#include "bridge/room.h"
#include "bridge/transport.h"
#include "signaling/server.h"
#include "signaling/store.h"
#include "signaling/token.h"


static GLogLevelFlags log_threshold = G_LOG_LEVEL_MESSAGE;

/* One line per event on stderr, which journald keeps with its level. */
static GLogWriterOutput write_log(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user) {
  if ((level & G_LOG_LEVEL_MASK) > log_threshold)
    return G_LOG_WRITER_HANDLED;
  const char *message = "", *domain = NULL;
  for (gsize i = 0; i < n; i++) {
    if (!strcmp(fields[i].key, "MESSAGE"))
      message = fields[i].value;
    else if (!strcmp(fields[i].key, "GLIB_DOMAIN"))
      domain = fields[i].value;
  }
  const char *tag = level & G_LOG_LEVEL_ERROR      ? "error"
                    : level & G_LOG_LEVEL_CRITICAL ? "critical"
                    : level & G_LOG_LEVEL_WARNING  ? "warning"
                    : level & G_LOG_LEVEL_DEBUG    ? "debug"
                                                   : "info";
  /* One event, one line: control characters (a newline in something a client sent) are
   * written as \xNN, so nothing logged can forge a line of its own. */
  GString *line = g_string_sized_new(128);
  for (const unsigned char *c = (const unsigned char *)message; *c; c++)
    if (*c < 0x20 || *c == 0x7f)
      g_string_append_printf(line, "\\x%02x", *c);
    else
      g_string_append_c(line, (char)*c);
  fprintf(stderr, "diemcau-bridge %s: %s%s%s\n", tag, domain ? domain : "", domain ? ": " : "", line->str);
  g_string_free(line, TRUE);
  return G_LOG_WRITER_HANDLED;
}

/* The config file named by --config, for the settings not given as flags. */
static bool read_config(dc_options *o, GError **error) {
  if (!o->config)
    return true;
  char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(o->config, &text, &len, error)) {
    g_prefix_error(error, "config: ");
    return false;
  }
  bool ok = dc_options_read_config(o, text, len, o->config, error);
  g_free(text);
  return ok;
}

/* Native endpoints trust a self-signed bridge by this (diemcau-endpoint --pin); it is public. */
static void log_certificate_fingerprint(GTlsCertificate *cert) {
  GByteArray *der = NULL;
  g_object_get(cert, "certificate", &der, NULL);
  if (!der)
    return;
  char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der->data, der->len);
  GString *fp = g_string_new(NULL);
  for (size_t i = 0; hex[i] && hex[i + 1]; i += 2)
    g_string_append_printf(fp, "%s%c%c", i ? ":" : "", g_ascii_toupper(hex[i]), g_ascii_toupper(hex[i + 1]));
  g_message("TLS certificate SHA-256 fingerprint (for diemcau-endpoint --pin): %s", fp->str);
  g_string_free(fp, TRUE);
  g_free(hex);
  g_byte_array_unref(der);
}

/* A self-signed ECDSA certificate for the HTTPS page, made once and kept in the data dir. */
static bool make_certificate(const char *cert_path, const char *key_path, const char *extra_ip,
                             GError **error) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  bool ok = key && x && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), (long)g_random_int()) &&
            X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(x), 825L * 24 * 3600) &&
            X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                       (const unsigned char *)"diemcau", -1, -1, 0) &&
            X509_set_issuer_name(x, X509_get_subject_name(x)) && X509_set_pubkey(x, key);
  char *san = extra_ip ? g_strdup_printf("DNS:localhost,IP:127.0.0.1,IP:%s", extra_ip)
                       : g_strdup("DNS:localhost,IP:127.0.0.1");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = ok ? X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san) : NULL;
  ok = ok && ext && X509_add_ext(x, ext, -1) && X509_sign(x, key, EVP_sha256()) > 0;
  X509_EXTENSION_free(ext);
  g_free(san);
  FILE *cf = ok ? fopen(cert_path, "w") : NULL;
  ok = cf && PEM_write_X509(cf, x);
  if (cf)
    fclose(cf);
  int fd = ok ? g_open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
  FILE *kf = fd >= 0 ? fdopen(fd, "w") : NULL;
  ok = kf && PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL);
  if (kf)
    fclose(kf);
  X509_free(x);
  EVP_PKEY_free(key);
  if (!ok)
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not write a TLS certificate to %s", cert_path);
  return ok;
}

/* The data directory holds the store (with the invitation-signing secret) and the TLS key.
 * One that others may read or enter is made private, with a line saying so; so are the
 * files in it that an older version or another umask left readable. False when it cannot. */
static bool private_data_dir(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    g_critical("the data directory %s is not a directory", dir);
    return false;
  }
  if (st.st_mode & 077) {
    if (chmod(dir, 0700) != 0) {
      g_critical("the data directory %s can be read by other users (mode %03o) and cannot be made "
                 "private: %s; run chmod 700 on it", dir, (unsigned)(st.st_mode & 0777), g_strerror(errno));
      return false;
    }
    g_message("the data directory %s could be read by other users (mode %03o): made it 700",
              dir, (unsigned)(st.st_mode & 0777));
  }
  static const char *const files[] = {"diemcau.db", "diemcau.db-wal", "diemcau.db-shm", "tls-key.pem"};
  for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
    char *path = g_build_filename(dir, files[i], NULL);
    if (stat(path, &st) == 0 && (st.st_mode & 077)) {
      if (chmod(path, 0600) != 0) {
        g_critical("%s can be read by other users and cannot be made private: %s", path, g_strerror(errno));
        g_free(path);
        return false;
      }
      g_message("%s could be read by other users (mode %03o): made it 600", path, (unsigned)(st.st_mode & 0777));
    }
    g_free(path);
  }
  return true;
}

static GMainLoop *loop;
static dc_server *the_server; /* for the bridge's speaker events, which start after it exists */

/* Where ICE gathers, said once at start when nothing was chosen: a machine's other networks
 * (a container bridge, a VPN) give every point candidates it cannot reach, and a point that
 * finds no path is easier to explain knowing them. */
static void tell_ice_addresses(char **chosen) {
  if (chosen && *chosen)
    return;
  unsigned n;
  char *list = dc_transport_machine_addresses(&n);
  if (n > 1)
    g_message("ICE gathers on the %u addresses of this machine (%s); --ice-address (ice-address= in the "
              "config file, repeatable) keeps it to the ones the points reach",
              n, list);
  g_free(list);
}

/* Each --ice-address is tried at start as media would use it (a UDP socket bound to it): one
 * that is not this machine's (a typo, or the address DHCP gave it before) or an IPv6 one
 * where IPv6 is off would leave every point failing to connect with nothing said here. Only
 * warned, not refused: at boot the address may come a moment after the bridge, and each
 * join gathers anew (transport.c says at once when none can be opened then). */
static void check_ice_addresses(char **chosen) {
  unsigned usable = 0, n = 0;
  char *mine = NULL;
  for (char **a = chosen; a && *a; a++, n++) {
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST}, *ai = NULL;
    int err = 0;
    if (getaddrinfo(*a, "0", &hints, &ai) != 0 || !ai) {
      err = EINVAL;
    } else {
      int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      err = fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ? errno : 0;
      if (fd >= 0)
        close(fd);
    }
    if (ai)
      freeaddrinfo(ai);
    if (!err) {
      usable++;
      continue;
    }
    if (!mine)
      mine = dc_transport_machine_addresses(NULL);
    g_warning("ice-address %s cannot carry media: %s; this machine's addresses: %s", *a,
              err == EADDRNOTAVAIL   ? "it is not an address of this machine (a typo, or one it had before?)"
              : err == EAFNOSUPPORT ? "IPv6 is off on this machine"
                                     : g_strerror(err),
              mine);
  }
  if (n && !usable)
    g_warning("none of the ICE addresses can carry media: every point will fail to connect until one of them is "
              "this machine's (ice-address= in the config file, or --ice-address)");
  g_free(mine);
}

/* Each participant holds a UDP socket for each address ICE gathers on, and its WebSocket: a
 * service started with the usual soft limit of 1024 descriptors would refuse joins from some
 * hundreds of points on. The soft limit is raised to the hard one, as far as a million. */
static void raise_descriptor_limit(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0)
    return;
  rlim_t want = r.rlim_max == RLIM_INFINITY || r.rlim_max > 1048576 ? 1048576 : r.rlim_max;
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < want) {
    rlim_t was = r.rlim_cur;
    r.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &r) == 0)
      g_debug("open descriptors: the limit raised from %lu to %lu", (unsigned long)was, (unsigned long)want);
  }
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur < 4096)
    g_warning("this process may open only %lu descriptors, and each point holds two to four: raise the limit "
              "(ulimit -n, or LimitNOFILE= for a systemd service) for big meetings",
              (unsigned long)r.rlim_cur);
}

static void on_speaker(gpointer user, int64_t meeting, int64_t participant) {
  if (the_server)
    dc_server_speaker_changed(the_server, meeting, participant);
}

static void on_recording(gpointer user, int64_t meeting, const char *error) {
  if (the_server)
    dc_server_recording_ended(the_server, meeting, error);
}

static gboolean on_signal(gpointer data) {
  g_message("stopping (%s)", (const char *)data);
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

/* key_shown: a first-start key was just printed; otherwise the demo makes one to show,
 * since the store keeps keys only as hashes. */
static void print_demo(dc_store *store, dc_server *server, bool key_shown) {
  GError *err = NULL;
  int64_t hall = 0, commune = 0;
  GPtrArray *points = dc_store_list_points(store, &err);
  for (guint i = 0; points && i < points->len; i++) {
    dc_point *p = g_ptr_array_index(points, i);
    if (!strcmp(p->name, "Hội trường UBND huyện"))
      hall = p->id;
    if (!strcmp(p->name, "Xã Tà Xùa"))
      commune = p->id;
  }
  if (points)
    g_ptr_array_unref(points);
  if (!hall)
    hall = dc_store_add_point(store, "Hội trường UBND huyện", "hall", "hall", &err);
  if (!commune)
    commune = dc_store_add_point(store, "Xã Tà Xùa", "commune", "highland", &err);
  int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  int64_t meeting = dc_store_create_meeting(store, "Họp giao ban (demo)", now, now + 4 * 3600, hall, &err);
  if (!meeting) {
    g_warning("demo: %s", err ? err->message : "could not create the meeting");
    g_clear_error(&err);
    return;
  }
  printf("\nDemo meeting %" G_GINT64_FORMAT " \"Họp giao ban (demo)\" is open for 4 hours.\n", meeting);
  const struct {
    int64_t point;
    const char *role, *label, *profile;
  } invites[] = {{hall, "host", "district hall (host)", "hall"}, {commune, "participant", "Xã Tà Xùa", "highland"}};
  for (size_t i = 0; i < 2; i++) {
    int64_t expires = now + 5 * 3600;
    int64_t inv = dc_store_create_invitation(store, meeting, invites[i].point, invites[i].role, expires, &err);
    dc_token_claims c = {.invitation_id = inv, .meeting_id = meeting, .point_id = invites[i].point,
                         .expires_at = expires};
    g_strlcpy(c.role, invites[i].role, sizeof c.role);
    char *token = dc_token_sign(dc_store_secret(store), &c);
    char *link = dc_server_join_link(server, meeting, token, invites[i].profile);
    printf("  join link for %s:\n    %s\n", invites[i].label, link);
    g_free(link);
    g_free(token);
  }
  char *key = key_shown ? NULL : dc_store_new_api_key(store, "demo", "admin", NULL, &err);
  if (key)
    printf("  operator API key for this demo (shown once): %s\n", key);
  printf("  operators' console: %s/console (sign in with the operator key)\n", dc_server_base_url(server));
  printf("Open a link in Chromium or Firefox (accept the self-signed certificate once). Ctrl-C stops.\n\n");
  fflush(stdout);
  g_free(key);
}

int main(int argc, char **argv) {
  /* Buffers of 32 KiB and more (receivers' pacer rings grown by a backlog, then shrunk:
   * media/pacer.h) come from and go back to the kernel. Left to glibc's heaps, what a storm
   * of 300 joins grew stayed resident after it: 183-195 KiB a participant against 143-152. */
  mallopt(M_MMAP_THRESHOLD, 32 * 1024);
  dc_options o = {0};
  GOptionEntry entries[] = {
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &o.config, "Config file ([bridge] section, keys named as these flags)", "FILE"},
      {"listen", 'l', 0, G_OPTION_ARG_STRING, &o.listen, "Address for HTTPS/WSS (default: all, IPv6 and IPv4; 0.0.0.0: all IPv4 ones)", "ADDR"},
      {"port", 'p', 0, G_OPTION_ARG_INT, &o.port, "Port for HTTPS/WSS (default 8443)", "PORT"},
      {"media-ports", 0, 0, G_OPTION_ARG_STRING, &o.media_ports, "UDP port range for media, e.g. 40000-40999 (default: any)", "MIN-MAX"},
      {"public-address", 0, 0, G_OPTION_ARG_STRING, &o.public_address, "Address to advertise in ICE when behind 1:1 NAT", "IP"},
      {"ice-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.ice_addresses, "Gather ICE candidates only on this local address (repeatable; e.g. 127.0.0.1 for tests; default: every address of this machine)", "IP"},
      {"stun", 0, 0, G_OPTION_ARG_STRING, &o.stun, "STUN server for server-reflexive candidates", "HOST:PORT"},
      {"turn", 0, 0, G_OPTION_ARG_STRING, &o.turn, "TURN (UDP) relay for the bridge's own candidates, when the bridge itself is behind a NAT ICE cannot cross", "USER:PASSWORD@HOST:PORT"},
      {"ice-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.ice_servers, "STUN/TURN server participants are told to use, e.g. turn:turn.example.vn:3478?transport=tcp or turns:turn.example.vn:443 (repeatable; for points whose firewall blocks UDP)", "URL"},
      {"turn-secret", 0, 0, G_OPTION_ARG_STRING, &o.turn_secret, "Secret shared with the TURN server (coturn's static-auth-secret) to mint participants' credentials; better in the config file than on the command line", "SECRET"},
      {"turn-ttl", 0, 0, G_OPTION_ARG_INT, &o.turn_ttl, "How long a participant's TURN credentials last, in seconds (default 43200)", "SECONDS"},
      {"data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &o.data_dir, "Data directory: store, TLS certificate (default ./diemcau-data)", "DIR"},
      {"tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &o.tls_cert, "TLS certificate (PEM); default: self-signed, made on first start", "FILE"},
      {"tls-key", 0, 0, G_OPTION_ARG_FILENAME, &o.tls_key, "TLS private key (PEM) for --tls-cert", "FILE"},
      {"plain-http", 0, 0, G_OPTION_ARG_NONE, &o.plain_http, "Serve plain HTTP/WS (only for tests on loopback)", NULL},
      {"workers", 'w', 0, G_OPTION_ARG_INT, &o.workers, "Media worker threads (default: one per core)", "N"},
      {"talkers", 0, 0, G_OPTION_ARG_INT, &o.talkers, "Voices mixed at once, 1-8 (default 3)", "K"},
      {"big-room", 0, 0, G_OPTION_ARG_INT, &o.big_room, "Points of one link profile in a meeting at which their mix goes in 40 ms packets, not 20: half the packets for the bridge to send and the points' links to carry, for 20 ms more delay (default 100; more than a meeting holds, 1000, for never)", "N"},
      {"no-ice-tcp", 0, 0, G_OPTION_ARG_NONE, &o.no_ice_tcp, "No ICE-TCP candidates (RFC 6544): points whose UDP is blocked then need a TURN server (--ice-server)", NULL},
      {"no-io-uring", 0, 0, G_OPTION_ARG_NONE, &o.no_io_uring, "Send and read media a system call a peer, without batching them through io_uring (where a kernel's io_uring misbehaves; the bridge falls back by itself where it has none)", NULL},
      {"no-silence-filter", 0, 0, G_OPTION_ARG_NONE, &o.no_silence_filter, "Read every audio packet, muted points' silence too, instead of the kernel dropping most of it before the bridge reads it (to measure what that saves, or if a client's audio levels are wrong)", NULL},
      {"no-realtime-clock", 0, 0, G_OPTION_ARG_NONE, &o.no_realtime_clock, "Run the mix clock at the ordinary priority, not the real-time one it takes where it may (SCHED_FIFO: as root, with CAP_SYS_NICE, or with a real-time priority limit, systemd's LimitRTPRIO=1)", NULL},
      {"no-red", 0, 0, G_OPTION_ARG_NONE, &o.no_red, "No RED audio redundancy (RFC 2198) on lossy links, either way (to measure its gain)", NULL},
      {"no-video-fec", 0, 0, G_OPTION_ARG_NONE, &o.no_video_fec, "No ULPFEC (RFC 5109) asked of highland points' cameras (to measure its gain)", NULL},
      {"red-always", 0, 0, G_OPTION_ARG_NONE, &o.red_always, "Audio redundancy (RFC 2198) to every point that takes it from its first packet, not once it reports loss (a district whose communes are all on lossy links)", NULL},
      {"log-level", 0, 0, G_OPTION_ARG_STRING, &o.log_level, "error, warning, info or debug (default info)", "LEVEL"},
      {"web-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.web_dir, "Directory of the meeting page", "DIR"},
      {"time-zone", 0, 0, G_OPTION_ARG_STRING, &o.time_zone, "Operators' time zone, an IANA name (default Asia/Ho_Chi_Minh)", "ZONE"},
      {"metrics-listen", 0, 0, G_OPTION_ARG_STRING, &o.metrics_listen, "Serve /metrics on this address too, e.g. 10.0.0.5:9464 (default: only to this machine, on the main port)", "ADDR:PORT"},
      {"demo", 0, 0, G_OPTION_ARG_NONE, &o.demo, "Create a demo meeting with two invitations and print the join links", NULL},
      G_OPTION_ENTRY_NULL};
  GOptionContext *ctx = g_option_context_new("- diemcau video-conference bridge");
  g_option_context_set_summary(ctx, "Serves the meeting page, signaling and media for district-to-commune meetings.");
  g_option_context_add_main_entries(ctx, entries, NULL);
  GError *err = NULL;
  int rc = 1;
  /* The store holds the secret that signs invitations, and the data directory the TLS key:
   * nothing this process makes is for other users to read. */
  umask(077);
  /* A recording past a file-size limit (ulimit -f) is a write error that ends the recording,
   * not a signal that ends every meeting. */
  signal(SIGXFSZ, SIG_IGN);
  g_log_set_writer_func(write_log, NULL, NULL);
  if (!g_option_context_parse(ctx, &argc, &argv, &err) || !read_config(&o, &err)) {
    fprintf(stderr, "diemcau-bridge: %s\nTry --help.\n", err->message);
    g_error_free(err);
    g_option_context_free(ctx);
    dc_options_clear(&o);
    return 2;
  }
  g_option_context_free(ctx);
  if (!dc_options_check(&o, &err)) {
    fprintf(stderr, "diemcau-bridge: %s\nTry --help.\n", err->message);
    g_error_free(err);
    dc_options_clear(&o);
    return 2;
  }
  log_threshold = o.log_threshold;
  dc_bridge_config bcfg = {.workers = o.workers > 0 ? (unsigned)o.workers : 0,
                           .talkers = (unsigned)o.talkers, .big_room = (unsigned)o.big_room, .no_red = o.no_red, .no_video_fec = o.no_video_fec, .red_always = o.red_always, .no_io_uring = o.no_io_uring,
                           .no_realtime_clock = o.no_realtime_clock,
                           .no_silence_filter = o.no_silence_filter, .on_speaker = on_speaker,
                           .on_recording = on_recording};
  bcfg.transport.port_min = o.media_port_min;
  bcfg.transport.port_max = o.media_port_max;
  bcfg.transport.stun_host = o.stun_host;
  bcfg.transport.stun_port = o.stun_port;
  if (o.turn_host) { /* libnice wants an address: the name is resolved once, here */
    GList *addrs = g_resolver_lookup_by_name(g_resolver_get_default(), o.turn_host, NULL, &err);
    if (!addrs) {
      fprintf(stderr, "diemcau-bridge: --turn: cannot resolve %s: %s\n", o.turn_host, err->message);
      g_error_free(err);
      dc_options_clear(&o);
      return 2;
    }
    bcfg.transport.turn_host = g_inet_address_to_string(addrs->data);
    g_resolver_free_addresses(addrs);
    bcfg.transport.turn_port = o.turn_port;
    bcfg.transport.turn_user = o.turn_user;
    bcfg.transport.turn_password = o.turn_password;
  }
  bcfg.transport.local_addresses = o.ice_addresses;
  tell_ice_addresses(o.ice_addresses);
  check_ice_addresses(o.ice_addresses);
  raise_descriptor_limit();
  bcfg.transport.public_address = o.public_address;
  bcfg.transport.ice_tcp = !o.no_ice_tcp;

  const char *data_dir = o.data_dir ? o.data_dir : "diemcau-data";
  dc_store *store = NULL;
  GTlsCertificate *cert = NULL;
  if (g_mkdir_with_parents(data_dir, 0700) != 0) {
    g_critical("cannot create the data directory %s: %s", data_dir, g_strerror(errno));
    goto out_store;
  }
  if (!private_data_dir(data_dir))
    goto out_store;
  char *db_path = g_build_filename(data_dir, "diemcau.db", NULL);
  store = dc_store_open(db_path, &err);
  g_free(db_path);
  if (!store) {
    g_critical("%s", err->message);
    goto out_store;
  }
  int closed = dc_store_close_open_stays(store);
  if (closed > 0) /* the last run ended without their leaves: they end at their last update */
    g_message("attendance: %d stay(s) left open by the last run closed at their last update", closed);
  bool key_shown = false;
  if (dc_store_count_api_keys(store) == 0) {
    char *key = dc_store_new_api_key(store, "first key", "admin", NULL, &err);
    key_shown = key != NULL;
    if (key) /* to stdout, once: the store keeps only its hash */
      printf("Operator API key (shown once, keep it): %s\n", key);
    fflush(stdout);
    g_free(key);
  }
  if (!o.plain_http) {
    char *cert_path = o.tls_cert ? g_strdup(o.tls_cert) : g_build_filename(data_dir, "tls-cert.pem", NULL);
    char *key_path = o.tls_key ? g_strdup(o.tls_key) : g_build_filename(data_dir, "tls-key.pem", NULL);
    if (!o.tls_cert && !g_file_test(cert_path, G_FILE_TEST_EXISTS)) {
      if (make_certificate(cert_path, key_path, o.public_address, &err))
        g_message("made a self-signed TLS certificate in %s", cert_path);
    }
    if (!err)
      cert = g_tls_certificate_new_from_files(cert_path, key_path, &err);
    g_free(cert_path);
    g_free(key_path);
    if (!cert) {
      g_critical("TLS: %s", err->message);
      goto out_store;
    }
    log_certificate_fingerprint(cert);
  }
  dc_bridge *bridge = dc_bridge_new(&bcfg, &err);
  if (!bridge) {
    g_critical("%s", err->message);
    goto out_cert;
  }
  guint port = o.port > 0 ? (guint)o.port : 8443;
  char *base = o.public_address ? g_strdup_printf("%s://%s:%u", o.plain_http ? "http" : "https", o.public_address, port) : NULL;
  dc_server_config scfg = {.listen_address = o.listen, .port = port, .certificate = cert,
                           .web_dir = o.web_dir ? o.web_dir : DC_WEB_DIR, .public_base_url = base,
                           .time_zone = o.time_zone, .metrics_listen = o.metrics_listen};
  char *recordings_dir = g_build_filename(data_dir, "recordings", NULL);
  scfg.recordings_dir = recordings_dir;
  scfg.ice_servers = (const char *const *)o.ice_servers;
  scfg.turn_secret = o.turn_secret;
  scfg.turn_ttl_s = (unsigned)o.turn_ttl;
  dc_server *server = dc_server_new(&scfg, store, bridge, &err);
  g_free(recordings_dir);
  the_server = server;
  g_free(base);
  if (!server) {
    g_critical("%s", err->message);
    dc_bridge_free(bridge);
    goto out_cert;
  }
  const char *listen = dc_server_listen_address(server);
  bool v6 = strchr(listen, ':') != NULL; /* a URL writes an IPv6 address in brackets */
  g_message("listening on %s://%s%s%s:%u with %u media workers", o.plain_http ? "http" : "https", v6 ? "[" : "", listen,
            v6 ? "]" : "", dc_server_port(server), bcfg.workers ? bcfg.workers : g_get_num_processors());
  if (o.demo)
    print_demo(store, server, key_shown);
  loop = g_main_loop_new(NULL, FALSE);
  g_unix_signal_add(SIGINT, on_signal, "SIGINT");
  g_unix_signal_add(SIGTERM, on_signal, "SIGTERM");
  g_main_loop_run(loop);
  dc_bridge_stop(bridge); /* no mixing, no speaker events while everyone leaves */
  dc_server_shutdown(server);
  /* let the close frames and DTLS close_notify go out */
  for (int i = 0; i < 20 && g_main_context_iteration(NULL, FALSE); i++)
    ;
  the_server = NULL;
  dc_server_free(server);
  dc_bridge_free(bridge);
  dc_recorder_shutdown();
  g_main_loop_unref(loop);
  rc = 0;
  g_message("stopped");
out_cert:
  g_clear_object(&cert);
out_store:
  if (store)
    dc_store_close(store);
  g_clear_error(&err);
  g_free(bcfg.transport.turn_host); /* the rest of bcfg's strings are o's */
  dc_options_clear(&o);
  return rc;
}
