/* Where the bridge sends a participant's media, when the participant's packets come from a new
 * address (RFC 7675 §5.1 consent; bridge/transport_receive.c, direct receive), in the real daemon.
 *
 * Client X reaches the bridge through a relay of the test's own, as through a NAT: X sends to
 * the relay's front socket, the relay forwards from one of its two back sockets, and what the
 * bridge sends to a back socket goes to X. A third socket plays an attacker on the path: it
 * sends a copy of X's packets ahead of the originals. Client Y joins directly, so that X has a
 * meeting to hear.
 *
 * - A copy from elsewhere, however well it authenticates, moves nothing: the bridge asks the
 *   attacker's address for consent (a STUN check), gets no answer, and sends it no media; X
 *   keeps hearing the meeting. (Before: the first copy moved X's media to the attacker.)
 * - X's NAT gives it a new port (the relay forwards from its other back socket): the bridge
 *   checks the new address, X answers through it, and X's media follows within seconds,
 *   without a rejoin.
 * - A valid check of X's from elsewhere (as a browser pings its backup pairs: another address
 *   of its own, which answers the bridge's checks too) is answered but moves nothing: media
 *   follows the pair the peer sends media on. (Before: the check, answered back, moved it.)
 * - DTLS from anywhere but X's address is not read: a datagram that looks like a resent
 *   handshake record had the bridge resend its last flight to X (up to ten a second).
 * - X's first checks are lost for 6 s (a highland link's burst), while the bridge's check and
 *   X's answer to it get through: the bridge waits for X to nominate, and X joins at its fifth
 *   send. (Before: the bridge declared ICE failed 5 s after its own check succeeded.)
 * - The bridge gathers on three addresses (127.0.0.1, 127.0.0.2 and ::1, as a dual-stack host
 *   has several), and Y joins over IPv6 (::1): each transport still reads its sockets itself
 *   (Y's path an IPv6 one), and when X's packets
 *   come to the bridge's other address (the relay sends them there, as a browser moves to a
 *   pair on another address of ours), the bridge checks X there and its media follows from
 *   that socket. (Before: such a bridge left every transport on libnice's reads.)
 * - A run of datagrams that comes in one buffer (UDP GRO: a NIC coalescing one flow's
 *   packets, or a GSO send on loopback) is taken apart: the relay hands X the bridge's RTP
 *   two at a time as one GSO datagram, and X's transport (the same code as the bridge's)
 *   reads them coalesced and gets every packet.
 */
#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/ice_reply.h"
#include "bridge/metrics.h"
#include "media/demux.h"
#include "signaling/store.h"
#include "signaling/token.h"
#include "tests/lib/daemon.h"
#include "tests/lib/native_client.h"

#define PORT 18653
#define OTHER_ADDRESS "127.0.0.2" /* the bridge's second address: loopback's 127/8 is all this host's */

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

enum { X, Y, N_CLIENTS };
enum { BACK0, BACK1, ATTACKER, N_OUT }; /* the relay's sockets toward the bridge */

typedef struct {
  dc_workers *workers;
  dc_client *dc;
  gint connected;
  gint rtp_in; /* its worker: the meeting's packets that came */
  char *error;  /* main thread: the last error the bridge sent it */
} client;

static struct {
  SoupSession *session;
  dc_dtls_identity *id;
  GSubprocess *bridge;
  char *dir;
  client c[N_CLIENTS];
  /* the relay, on a thread of its own */
  GThread *thread;
  int front, out[N_OUT];
  struct sockaddr_in bridge_media, x_addr; /* the bridge's candidate; where X sends from */
  struct sockaddr_in bridge_other;         /* the bridge's candidate on its other address (X is not told) */
  gint to_other;         /* X's packets go to bridge_other */
  gint media_from_other; /* the bridge's media that came from bridge_other */
  gint have_bridge, have_x;
  gint64 x_first_us;     /* when X's first packet came */
  gint checks_held;      /* X's checks (STUN requests) dropped in its first HOLD_CHECKS_MS */
  gint cur;              /* BACK0 or BACK1: X's packets go to the bridge from there */
  gint copies;           /* X's next SRTP/SRTCP packets copied from ATTACKER first */
  gint media_to[N_OUT];  /* what the bridge sent each socket: SRTP or SRTCP ... */
  gint stun_to[N_OUT];   /* ... STUN ... */
  gint dtls_to[N_OUT];   /* ... and DTLS */
  gint checks_answered;  /* the bridge's checks the attacker answered as X's backup address */
  gint backup;           /* the attacker plays X's backup address: it answers checks as X */
  char *x_ufrag, *x_pwd; /* X's ICE credentials, for that */
  gint coalesce;         /* the bridge's RTP to X goes two at a time in one GSO datagram */
  gint rtp_to_x;         /* the bridge's RTP packets the relay passed on to X */
  gint coalesced_to_x;   /* ... of those, in GSO datagrams of two */
  GSource *busy;         /* keeps Y's worker from ever going idle (test_busy_worker_reads_its_socket) */
  gint busy_turns;
  gint stop;
} T;

static int udp_socket(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof a), ==, 0);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  if (port)
    *port = ntohs(a.sin_port);
  return fd;
}

static bool is_stun(const uint8_t *b, ssize_t n) { return n >= 20 && b[0] < 2; }
static bool is_stun_request(const uint8_t *b, ssize_t n) { return is_stun(b, n) && (b[0] & 1) == 0 && !(b[1] & 0x10); }

/* Between X's fourth send of a check (3.5 s after its first) and its fifth (7.5 s): the
 * bridge's old wait for a nomination, 5 s after its own check, ended inside it. */
#define HOLD_CHECKS_MS 6000
static bool is_dtls(const uint8_t *b, ssize_t n) { return n >= 13 && b[0] >= 20 && b[0] <= 63; }
static bool is_srtp(const uint8_t *b, ssize_t n) { return n >= 12 && b[0] >= 128 && b[0] <= 191; }

/* What the relay passes on to X. With T.coalesce, an RTP packet is held until the next: a
 * next no longer than it goes with it in one GSO datagram (UDP_SEGMENT: cut at the held
 * one's length, the shorter last), a longer one sends the held one alone and is held in turn;
 * one held 30 ms goes alone. */
static uint8_t held[2048];
static size_t held_len;
static gint64 held_at;

static void flush_held(void) {
  if (held_len)
    sendto(T.front, held, held_len, 0, (struct sockaddr *)&T.x_addr, sizeof T.x_addr);
  held_len = 0;
}

static void to_x(const uint8_t *buf, size_t n) {
  bool rtp = dc_demux(buf, n) == DC_PKT_RTP;
  if (rtp)
    g_atomic_int_inc(&T.rtp_to_x);
  if (!rtp || !g_atomic_int_get(&T.coalesce)) {
    flush_held(); /* X's packets in the order they came */
    sendto(T.front, buf, n, 0, (struct sockaddr *)&T.x_addr, sizeof T.x_addr);
    return;
  }
  if (held_len && n <= held_len) {
    struct iovec iov[2] = {{held, held_len}, {(void *)buf, n}};
    union {
      char buf[CMSG_SPACE(sizeof(uint16_t))];
      struct cmsghdr align;
    } control;
    struct msghdr m = {.msg_name = &T.x_addr, .msg_namelen = sizeof T.x_addr, .msg_iov = iov, .msg_iovlen = 2,
                       .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_UDP, c->cmsg_type = UDP_SEGMENT, c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t segment = (uint16_t)held_len;
    memcpy(CMSG_DATA(c), &segment, sizeof segment);
    if (sendmsg(T.front, &m, 0) == (ssize_t)(held_len + n))
      g_atomic_int_add(&T.coalesced_to_x, 2);
    held_len = 0;
    return;
  }
  flush_held();
  memcpy(held, buf, n);
  held_len = n;
  held_at = g_get_monotonic_time();
}

static gpointer relay(gpointer unused) {
  (void)unused;
  uint8_t buf[2048];
  while (!g_atomic_int_get(&T.stop)) {
    struct pollfd p[1 + N_OUT] = {{T.front, POLLIN, 0}};
    for (int i = 0; i < N_OUT; i++)
      p[1 + i] = (struct pollfd){T.out[i], POLLIN, 0};
    if (poll(p, 1 + N_OUT, held_len ? 10 : 100) <= 0) {
      if (held_len && g_get_monotonic_time() - held_at > 30000)
        flush_held();
      continue;
    }
    if (p[0].revents & POLLIN) { /* from X, to the bridge */
      struct sockaddr_in from;
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(T.front, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
      if (n > 0 && g_atomic_int_get(&T.have_bridge)) {
        T.x_addr = from;
        g_atomic_int_set(&T.have_x, 1);
        if (!T.x_first_us)
          T.x_first_us = g_get_monotonic_time();
        bool lost = is_stun_request(buf, n) && g_get_monotonic_time() - T.x_first_us < HOLD_CHECKS_MS * 1000;
        if (lost) /* on the way; X's answers to the bridge's checks go */
          g_atomic_int_inc(&T.checks_held);
        else if (is_srtp(buf, n) && g_atomic_int_get(&T.copies) > 0) {
          g_atomic_int_add(&T.copies, -1);
          sendto(T.out[ATTACKER], buf, (size_t)n, 0, (struct sockaddr *)&T.bridge_media, sizeof T.bridge_media);
        }
        const struct sockaddr_in *to = g_atomic_int_get(&T.to_other) ? &T.bridge_other : &T.bridge_media;
        if (!lost)
          sendto(T.out[g_atomic_int_get(&T.cur)], buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof *to);
      }
    }
    for (int i = 0; i < N_OUT; i++) { /* from the bridge */
      if (!(p[1 + i].revents & POLLIN))
        continue;
      struct sockaddr_in from;
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(T.out[i], buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
      if (n <= 0)
        continue;
      bool media = !is_stun(buf, n) && !is_dtls(buf, n);
      g_atomic_int_inc(is_stun(buf, n) ? &T.stun_to[i] : is_dtls(buf, n) ? &T.dtls_to[i] : &T.media_to[i]);
      bool from_other = from.sin_port == T.bridge_other.sin_port && from.sin_addr.s_addr == T.bridge_other.sin_addr.s_addr;
      if (from_other && !g_atomic_int_get(&T.to_other))
        continue; /* X's answers would go to the first address: the relay keeps one path at a time */
      if (media && from_other)
        g_atomic_int_inc(&T.media_from_other);
      if (i == ATTACKER && is_stun(buf, n) && g_atomic_int_get(&T.backup)) { /* answered as X would */
        uint8_t answer[2048 + 128];
        size_t a = dc_ice_reply(buf, (size_t)n, T.x_ufrag, T.x_pwd, true, 1, (struct sockaddr *)&T.bridge_media,
                                sizeof T.bridge_media, answer, sizeof answer);
        if (a) {
          sendto(T.out[ATTACKER], answer, a, 0, (struct sockaddr *)&T.bridge_media, sizeof T.bridge_media);
          g_atomic_int_inc(&T.checks_answered);
        }
      }
      if (i != ATTACKER && g_atomic_int_get(&T.have_x)) /* the attacker keeps what it gets */
        to_x(buf, (size_t)n);
    }
    if (held_len && g_get_monotonic_time() - held_at > 30000)
      flush_held();
  }
  return NULL;
}

/* X is given the bridge's UDP candidate with the relay's front port instead of its own; the
 * one on the bridge's other address is kept for the relay, not given. */
static char *through_relay(const char *candidate, gpointer user) {
  (void)user;
  char **f = g_strsplit(candidate, " ", -1);
  char *out = NULL;
  if (g_strv_length(f) >= 8 && !g_ascii_strcasecmp(f[2], "udp") && !strcmp(f[4], OTHER_ADDRESS)) {
    T.bridge_other.sin_family = AF_INET;
    T.bridge_other.sin_port = htons((uint16_t)atoi(f[5]));
    inet_pton(AF_INET, f[4], &T.bridge_other.sin_addr);
  } else if (g_strv_length(f) >= 8 && !g_ascii_strcasecmp(f[2], "udp") && !strcmp(f[4], "127.0.0.1")) {
    T.bridge_media.sin_family = AF_INET;
    T.bridge_media.sin_port = htons((uint16_t)atoi(f[5]));
    inet_pton(AF_INET, f[4], &T.bridge_media.sin_addr);
    g_atomic_int_set(&T.have_bridge, 1);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(T.front, (struct sockaddr *)&a, &len);
    g_free(f[5]);
    f[5] = g_strdup_printf("%u", ntohs(a.sin_port));
    out = g_strjoinv(" ", f);
  }
  g_strfreev(f);
  return out;
}

/* The bridge is given X's UDP candidate as the relay's first back socket, where X's NAT would
 * be: its own checks then reach X through the relay, and succeed before X's do. */
static char *at_relay(const char *candidate, gpointer user) {
  (void)user;
  char **f = g_strsplit(candidate, " ", -1);
  char *out = NULL;
  if (g_strv_length(f) >= 8 && !g_ascii_strcasecmp(f[2], "udp")) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(T.out[BACK0], (struct sockaddr *)&a, &len);
    g_free(f[4]);
    f[4] = g_strdup("127.0.0.1");
    g_free(f[5]);
    f[5] = g_strdup_printf("%u", ntohs(a.sin_port));
    out = g_strjoinv(" ", f);
  }
  g_strfreev(f);
  return out;
}

static char *offer_for(dc_client *dc, gpointer user) {
  (void)user;
  return dc_client_audio_offer(dc, g_random_int());
}

static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)buf, (void)len, (void)cap;
  g_atomic_int_inc(&((client *)user)->rtp_in);
}

static void on_message(dc_client *dc, const char *type, JsonObject *msg, gpointer user) {
  (void)dc;
  client *c = user;
  if (!strcmp(type, "error")) {
    g_free(c->error);
    c->error = g_strdup(json_object_get_string_member_with_default(msg, "message", "?"));
  }
}

static void on_connected(dc_client *dc, gpointer user) {
  (void)dc;
  g_atomic_int_set(&((client *)user)->connected, 1);
}

static bool both_connected(void) {
  return g_atomic_int_get(&T.c[X].connected) && g_atomic_int_get(&T.c[Y].connected);
}

static int mark;
static bool x_hears(void) { return g_atomic_int_get(&T.c[X].rtp_in) > mark + 50; }
static bool attacker_reached(void) {
  return g_atomic_int_get(&T.stun_to[ATTACKER]) > 0 || g_atomic_int_get(&T.media_to[ATTACKER]) > 0;
}
static bool media_at_back1(void) { return g_atomic_int_get(&T.media_to[BACK1]) > 50; }

static void test_connected_through_relay(void) {
  bool joined = dc_test_spin_until(both_connected, 30000);
  mark = g_atomic_int_get(&T.c[X].rtp_in);
  bool hears = joined && dc_test_spin_until(x_hears, 10000);
  g_test_message("X's checks dropped in its first %.0f s: %d; X %s, Y %s; X heard %d packets after; the bridge told X: %s",
                 HOLD_CHECKS_MS / 1e3, g_atomic_int_get(&T.checks_held),
                 g_atomic_int_get(&T.c[X].connected) ? "connected" : "not connected",
                 g_atomic_int_get(&T.c[Y].connected) ? "connected" : "not connected",
                 g_atomic_int_get(&T.c[X].rtp_in) - mark, T.c[X].error ? T.c[X].error : "nothing");
  g_assert_true(joined);
  g_assert_cmpint(g_atomic_int_get(&T.checks_held), >=, 2);
  g_assert_null(T.c[X].error); /* before: "ICE found no working path to the participant" */
  g_assert_true(hears);
  g_test_message("through the relay: the bridge sent %d media packets to its first back socket",
                 g_atomic_int_get(&T.media_to[BACK0]));
  g_assert_cmpint(g_atomic_int_get(&T.media_to[BACK0]), >, 50);
  g_assert_cmpint(g_atomic_int_get(&T.media_to[BACK1]), ==, 0);
}

/* Both X's and Y's transports read their sockets themselves, though each agent has three;
 * Y's path is over IPv6, and media flows on it both ways. And on each path the bridge's own
 * check for the round trip went as it started and was answered (X's through the relay): the
 * round trip is known before any report could give it (these clients' reports carry none). */
static void test_several_addresses_read_directly(void) {
  char *text = dc_test_fetch_metrics(T.session, PORT);
  double direct = dc_test_metric(text, "diemcau_direct_receive_total");
  double checks = dc_test_metric(text, "diemcau_rtt_checks_total");
  double answered = dc_test_metric(text, "diemcau_rtt_checks_answered_total");
  g_free(text);
  g_test_message("round-trip checks: %.0f sent, %.0f answered", checks, answered);
  g_assert_cmpfloat(answered, >=, 2);
  g_assert_cmpfloat(answered, <=, checks);
  int y_heard = g_atomic_int_get(&T.c[Y].rtp_in);
  dc_test_spin_for(1000);
  y_heard = g_atomic_int_get(&T.c[Y].rtp_in) - y_heard;
  g_test_message("the bridge gathers on 127.0.0.1, " OTHER_ADDRESS " and ::1: transports reading their sockets "
                 "themselves: %.0f of 2; Y, on ::1, heard %d packets in a second",
                 direct, y_heard);
  g_assert_cmpfloat(direct, ==, 2);
  g_assert_cmpint(y_heard, >, 25);
}

static void test_copy_from_elsewhere_moves_nothing(void) {
  g_atomic_int_set(&T.copies, 5); /* X's receiver reports: one a second */
  g_assert_true(dc_test_spin_until(attacker_reached, 15000)); /* by a check, or (wrongly) by media */
  mark = g_atomic_int_get(&T.c[X].rtp_in);
  int back0 = g_atomic_int_get(&T.media_to[BACK0]);
  dc_test_spin_for(6000); /* the rest of the copies, and any move they would cause */
  int media = g_atomic_int_get(&T.media_to[ATTACKER]), asked = g_atomic_int_get(&T.stun_to[ATTACKER]);
  int heard = g_atomic_int_get(&T.c[X].rtp_in) - mark, still = g_atomic_int_get(&T.media_to[BACK0]) - back0;
  g_test_message("copies sent ahead from the attacker: %d left unsent; the attacker got %d checks and %d media "
                 "packets; X heard %d packets in 6 s, %d of them sent to its own address",
                 g_atomic_int_get(&T.copies), asked, media, heard, still);
  g_assert_cmpint(media, ==, 0);
  g_assert_cmpint(asked, >=, 1);
  g_assert_cmpint(asked, <=, 5 * 2); /* a check per copy at most (spaced 200 ms), its retries none */
  g_assert_cmpint(heard, >, 100);
  g_assert_cmpint(still, >, 100);
}

static void test_nat_rebinding_followed(void) {
  g_atomic_int_set(&T.cur, BACK1);
  gint64 moved = g_get_monotonic_time();
  g_assert_true(dc_test_spin_until(media_at_back1, 15000));
  double after = (g_get_monotonic_time() - moved) / 1e6;
  int back0 = g_atomic_int_get(&T.media_to[BACK0]);
  mark = g_atomic_int_get(&T.c[X].rtp_in);
  dc_test_spin_for(2000);
  int old = g_atomic_int_get(&T.media_to[BACK0]) - back0, heard = g_atomic_int_get(&T.c[X].rtp_in) - mark;
  g_test_message("X's new port: its media followed %.1f s after; in the 2 s after, %d packets still went to the old "
                 "port and X heard %d", after, old, heard);
  g_assert_cmpint(old, <=, 2); /* the bridge's libnice may still send a keepalive there */
  g_assert_cmpint(heard, >, 50);
  g_assert_cmpint(g_atomic_int_get(&T.media_to[ATTACKER]), ==, 0);
}

/* X's other address pings the bridge with valid checks, as a browser's backup pair does, and
 * answers the bridge's checks as X: answered, but media stays where X sends media from. */
static void test_check_from_elsewhere_moves_nothing(void) {
  dc_transport *xt = dc_client_transport(T.c[X].dc);
  T.x_ufrag = g_strdup(dc_transport_local_ufrag(xt));
  T.x_pwd = g_strdup(dc_transport_local_pwd(xt));
  g_atomic_int_set(&T.backup, 1);
  int media0 = g_atomic_int_get(&T.media_to[ATTACKER]), stun0 = g_atomic_int_get(&T.stun_to[ATTACKER]);
  int answered0 = g_atomic_int_get(&T.checks_answered);
  mark = g_atomic_int_get(&T.c[X].rtp_in);
  for (int k = 0; k < 20; k++) { /* 4 s of checks, 200 ms apart */
    dc_ice_check chk;
    uint8_t req[512];
    size_t n = dc_ice_check_request(&chk, T.x_ufrag, dc_client_bridge_ufrag(T.c[X].dc), dc_client_bridge_pwd(T.c[X].dc),
                                    true, 1, req, sizeof req);
    g_assert_cmpuint(n, >, 0);
    sendto(T.out[ATTACKER], req, n, 0, (struct sockaddr *)&T.bridge_media, sizeof T.bridge_media);
    dc_test_spin_for(200);
  }
  dc_test_spin_for(1000);
  g_atomic_int_set(&T.backup, 0);
  int media = g_atomic_int_get(&T.media_to[ATTACKER]) - media0, stun = g_atomic_int_get(&T.stun_to[ATTACKER]) - stun0;
  int answered = g_atomic_int_get(&T.checks_answered) - answered0, heard = g_atomic_int_get(&T.c[X].rtp_in) - mark;
  g_test_message("20 valid checks of X's from another address: the bridge sent it %d STUN (answers and checks of its "
                 "own, %d of those answered as X) and %d media packets; X heard %d packets meanwhile",
                 stun, answered, media, heard);
  g_assert_cmpint(stun, >=, 20);  /* each check answered: they were valid */
  g_assert_cmpint(media, ==, 0);  /* and nothing moved */
  g_assert_cmpint(heard, >, 100); /* X's own path kept its media */
}

static bool media_from_other(void) { return g_atomic_int_get(&T.media_from_other) > 50; }

/* X's packets go to the bridge's other address from where they came before: the same peer
 * address on another socket of the bridge's is another path, and media follows only once X
 * answers a check there. */
static void test_other_address_of_the_bridge_followed(void) {
  g_assert_cmpint(T.bridge_other.sin_port, !=, 0); /* the bridge offered its other address */
  uint64_t before = 0;
  char *text = dc_test_fetch_metrics(T.session, PORT);
  before = (uint64_t)dc_test_metric(text, "diemcau_path_moves_total");
  g_free(text);
  g_atomic_int_set(&T.to_other, 1);
  gint64 moved = g_get_monotonic_time();
  bool followed = dc_test_spin_until(media_from_other, 15000);
  double after = (g_get_monotonic_time() - moved) / 1e6;
  int all = 0;
  for (int i = 0; i < N_OUT; i++)
    all += g_atomic_int_get(&T.media_to[i]);
  int from_other = g_atomic_int_get(&T.media_from_other);
  mark = g_atomic_int_get(&T.c[X].rtp_in);
  dc_test_spin_for(2000);
  int all_after = 0;
  for (int i = 0; i < N_OUT; i++)
    all_after += g_atomic_int_get(&T.media_to[i]);
  int old = (all_after - all) - (g_atomic_int_get(&T.media_from_other) - from_other);
  int heard = g_atomic_int_get(&T.c[X].rtp_in) - mark;
  text = dc_test_fetch_metrics(T.session, PORT);
  double moves = dc_test_metric(text, "diemcau_path_moves_total") - (double)before;
  g_free(text);
  g_test_message("X's packets to the bridge's other address: its media came from there %.1f s after (%s); in the 2 s "
                 "after, %d media packets still came from the first address and X heard %d; path moves %.0f",
                 after, followed ? "followed" : "not followed", old, heard, moves);
  g_assert_true(followed);
  g_assert_cmpint(old, <=, 2);
  g_assert_cmpint(heard, >, 50);
  g_assert_cmpfloat(moves, ==, 1);
}

/* A DTLS 1.2 handshake record's header (content type 22, epoch 0) and a few bytes, as a
 * ClientHello resent would start, from the attacker's socket. */
static void test_dtls_from_elsewhere_unread(void) {
  uint8_t record[13 + 12] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 12, 1, 0, 0, 8};
  int before = 0;
  for (int i = 0; i < N_OUT; i++)
    before += g_atomic_int_get(&T.dtls_to[i]);
  for (int k = 0; k < 10; k++) {
    sendto(T.out[ATTACKER], record, sizeof record, 0, (struct sockaddr *)&T.bridge_media, sizeof T.bridge_media);
    dc_test_spin_for(150);
  }
  dc_test_spin_for(500);
  int after = 0;
  for (int i = 0; i < N_OUT; i++)
    after += g_atomic_int_get(&T.dtls_to[i]);
  mark = g_atomic_int_get(&T.c[X].rtp_in);
  dc_test_spin_for(1000);
  int heard = g_atomic_int_get(&T.c[X].rtp_in) - mark;
  g_test_message("10 DTLS-looking datagrams from the attacker: the bridge sent %d DTLS datagrams after them; X "
                 "heard %d packets in the second after", after - before, heard);
  g_assert_cmpint(after - before, ==, 0);
  g_assert_cmpint(heard, >, 25); /* X's session untouched */
}

/* Y's worker is never idle: a source of the default priority is ready at every turn of its
 * loop, as a worker busy with many peers' packets is. Y's transport still reads its socket
 * itself once connected: the switch does not wait for an idle moment (1000 points joining in
 * a storm once left every transport on libnice's reads for good, and the bridge saturated). */
static gboolean keep_busy(gpointer unused) {
  (void)unused;
  g_atomic_int_inc(&T.busy_turns);
  g_usleep(200);
  return G_SOURCE_CONTINUE;
}

static void test_busy_worker_reads_its_socket(void) {
  guint64 direct = atomic_load(&dc_metrics.direct_receive);
  g_test_message("transports reading their socket themselves: %" G_GUINT64_FORMAT " (X and Y); Y's worker turned "
                 "busy %d times",
                 direct, g_atomic_int_get(&T.busy_turns));
  g_assert_cmpint(g_atomic_int_get(&T.busy_turns), >, 100);
  g_assert_cmpuint(direct, >=, 2);
}

static void test_coalesced_run_taken_apart(void) {
  g_assert_cmpuint(atomic_load(&dc_metrics.direct_receive), >=, 2); /* X and Y read their sockets themselves */
  uint64_t coalesced0 = atomic_load(&dc_metrics.direct_coalesced);
  int heard0 = g_atomic_int_get(&T.c[X].rtp_in), passed0 = g_atomic_int_get(&T.rtp_to_x);
  int joined0 = g_atomic_int_get(&T.coalesced_to_x);
  g_atomic_int_set(&T.coalesce, 1);
  dc_test_spin_for(3000);
  g_atomic_int_set(&T.coalesce, 0);
  dc_test_spin_for(500); /* the last held one, and what is in flight */
  int heard = g_atomic_int_get(&T.c[X].rtp_in) - heard0, passed = g_atomic_int_get(&T.rtp_to_x) - passed0;
  int joined = g_atomic_int_get(&T.coalesced_to_x) - joined0;
  uint64_t read_coalesced = atomic_load(&dc_metrics.direct_coalesced) - coalesced0;
  g_test_message("3 s of the bridge's RTP to X, two at a time where they fit one GSO datagram: the relay passed on %d "
                 "packets, %d of them joined; this process's transports read %" G_GUINT64_FORMAT " coalesced and X got %d "
                 "packets",
                 passed, joined, read_coalesced, heard);
  g_assert_cmpint(joined, >=, 20);                   /* the mix's packets are mostly of one length */
  /* each joined pair came as one read (Y's socket, on this process's counter too, may have had
   * a run of the bridge's of its own) */
  g_assert_cmpuint(read_coalesced, >=, (guint64)joined);
  g_assert_cmpint(heard, >=, passed - 2);            /* every packet, but one in flight at either end */
  g_assert_cmpint(heard, <=, passed + 2);
}

static void test_stops_cleanly(void) {
  dc_test_assert_stops_cleanly(T.bridge);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  const char *exe = g_getenv("DC_BRIDGE");
  if (!exe) {
    g_printerr("set DC_BRIDGE to the diemcau-bridge executable\n");
    return 2;
  }
  T.dir = g_dir_make_tmp("diemcau-path-XXXXXX", NULL);
  char **tokens = NULL;
  int64_t meeting = dc_test_make_meeting(T.dir, N_CLIENTS, &tokens);
  const char *const other[] = {"--ice-address", OTHER_ADDRESS, "--ice-address", "::1", NULL};
  T.bridge = dc_test_start_bridge_with(exe, T.dir, PORT, g_getenv("DC_LOG_LEVEL") ? g_getenv("DC_LOG_LEVEL") : "info",
                                       other);
  if (!T.bridge)
    return 1;
  T.front = udp_socket(NULL);
  for (int i = 0; i < N_OUT; i++)
    T.out[i] = udp_socket(NULL);
  T.cur = BACK0;
  T.thread = g_thread_new("relay", relay, NULL);
  T.session = soup_session_new();
  GError *err = NULL;
  T.id = dc_dtls_identity_new("path-test", &err);
  g_assert_no_error(err);
  char *url = g_strdup_printf("ws://127.0.0.1:%d/ws", PORT);
  const dc_client_callbacks cb = {.offer = offer_for, .message = on_message, .connected = on_connected, .rtp = on_rtp};
  for (int i = 0; i < N_CLIENTS; i++) {
    T.c[i].workers = dc_workers_new(1);
    if (i == Y) {
      T.busy = g_idle_source_new();
      g_source_set_priority(T.busy, G_PRIORITY_DEFAULT);
      g_source_set_callback(T.busy, keep_busy, NULL, NULL);
      g_source_attach(T.busy, dc_worker_context(dc_workers_pick(T.c[i].workers)));
    }
    dc_client_config cfg = {.session = T.session, .workers = T.c[i].workers, .identity = T.id, .ws_url = url,
                            .meeting = meeting, .token = tokens[i], .name = i == X ? "X" : "Y", .slots = 1,
                            .reports = true, .bridge_candidate = i == X ? through_relay : NULL,
                            .own_candidate = i == X ? at_relay : NULL, .local_address = i == Y ? "::1" : NULL};
    T.c[i].dc = dc_client_new(&cfg, &cb, &T.c[i]);
  }
  g_test_add_func("/path/connected-through-relay", test_connected_through_relay);
  g_test_add_func("/path/several-addresses-read-directly", test_several_addresses_read_directly);
  g_test_add_func("/path/copy-from-elsewhere-moves-nothing", test_copy_from_elsewhere_moves_nothing);
  g_test_add_func("/path/nat-rebinding-followed", test_nat_rebinding_followed);
  g_test_add_func("/path/check-from-elsewhere-moves-nothing", test_check_from_elsewhere_moves_nothing);
  g_test_add_func("/path/dtls-from-elsewhere-unread", test_dtls_from_elsewhere_unread);
  g_test_add_func("/path/other-address-of-the-bridge-followed", test_other_address_of_the_bridge_followed);
  g_test_add_func("/path/busy-worker-reads-its-socket", test_busy_worker_reads_its_socket);
  g_test_add_func("/path/coalesced-run-taken-apart", test_coalesced_run_taken_apart);
  g_test_add_func("/path/stops-cleanly", test_stops_cleanly);
  int rc = g_test_run();
  g_source_destroy(T.busy);
  g_source_unref(T.busy);
  for (int i = 0; i < N_CLIENTS; i++) {
    dc_client_close(T.c[i].dc);
    dc_workers_free(T.c[i].workers);
    dc_client_free(T.c[i].dc);
    g_free(T.c[i].error);
  }
  g_atomic_int_set(&T.stop, 1);
  g_thread_join(T.thread);
  close(T.front);
  for (int i = 0; i < N_OUT; i++)
    close(T.out[i]);
  dc_dtls_identity_unref(T.id);
  g_object_unref(T.session);
  g_object_unref(T.bridge);
  g_free(url);
  g_strfreev(tokens);
  char *argv_rm[] = {"rm", "-rf", T.dir, NULL};
  g_spawn_sync(NULL, argv_rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  g_free(T.dir);
  g_free(T.x_ufrag);
  g_free(T.x_pwd);
  return rc;
}
