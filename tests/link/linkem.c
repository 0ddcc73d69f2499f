/* linkem — the link lab's emulator: a slow, lossy link between two network namespaces.
 *
 * This kernel has no netem, so the lab owns one. linkem runs in a middle namespace that
 * holds one end of two veth pairs; it reads every Ethernet frame arriving on one (AF_PACKET,
 * promiscuous), asks tests/link/impair.c what the link does to it, and writes the survivors
 * to the other when they are due. Side A is the district (the bridge), side B the point;
 * "down" is A → B, "up" is B → A. Non-IP frames (ARP) cross at once: a 3G or radio link
 * has no ARP, so only an outage stops them. The outer veth ends need their segmentation
 * offloads off (ethtool -K DEV tx off tso off gso off: checksums too, or the far end drops
 * what linkem copies with a checksum left for the hardware), or TCP hands linkem frames larger than
 * the link's MTU.
 *
 *   linkem SCENARIO --a IFACE --b IFACE [--seed N] [--set GROUP.KEY=VALUE]... [--stats-every S]
 *          [--log-drops] [--log-backlog MS] [--no-schedule]
 *
 * SCENARIO is a key file (tests/link/scenarios/): groups [down] and [up] with rate-kbit,
 * queue-ms (or queue-bytes), delay-ms, jitter-ms, loss-percent, burst-packets,
 * reorder-percent, reorder-ms; group [link] with description, outage-at-s and outage-for-s.
 * SIGUSR1 takes the link down, SIGUSR2 brings it back (a test's own outage: with
 * --no-schedule the scenario's outage-at-s is left to the test, which times outage-for-s itself
 * where it measures, the speech lab after its speech); SIGTERM and
 * SIGINT end the run. Stdout gets JSON lines: "ready" once relaying, "outage" events, and
 * each direction's statistics every --stats-every seconds and at the end; with --log-drops,
 * every frame the queue dropped ("queue_drop") or the loss took ("lost"); with --log-backlog MS,
 * every frame that met a queue of MS or more ("backlog"), with its RTP payload type and SSRC
 * (what filled a thin link's queue, and what waited behind it). Whoever runs it
 * must keep reading them: writes block once a pipe is full, and linkem then relays nothing
 * (a by-hand probe that waited on curl synchronously made a dead link ~100 s in). The
 * random draws are seeded (--seed, default 1), and loss is drawn per flow (TCP, other UDP,
 * RTCP, each RTP stream by its order of appearance: flow_of): with the same scenario and
 * seed, the n-th packet of the mix meets the same fate whatever else the join sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/link/impair.h"

#define MAX_FRAME 65536
#define ETH_HEADER 14

/* Loss is drawn per flow (impair.h), by what stays the same from one run of a scenario to the
 * next, not ports or SSRCs (both random): */
enum {
  FLOW_OTHER,    /* IP but neither TCP nor UDP */
  FLOW_TCP,      /* the page, signaling */
  FLOW_UDP,      /* STUN, DTLS, anything not RTP (RFC 7983's demultiplexing) */
  FLOW_RTCP,     /* RTCP packets types 192-223 */
  FLOW_RTP,      /* RTP streams, in the order their SSRCs first crossed; later ones share the last */
  RTP_FLOWS = DC_IMPAIR_FLOWS - FLOW_RTP,
};

typedef struct {
  uint64_t due, order;
  size_t len;
  uint8_t *frame;
} pending;

/* One direction: its model and the frames on their way, a min-heap by (due, order). */
typedef struct {
  const char *name;
  dc_impair im;
  int in_fd, out_fd;
  pending *heap;
  size_t n, cap;
  uint64_t order, send_errors;
  uint32_t ssrcs[RTP_FLOWS]; /* RTP streams by first appearance: their flows */
  unsigned n_ssrcs;
} direction;

static volatile sig_atomic_t stop_requested, want_down, want_up;
static void on_signal(int sig) {
  if (sig == SIGUSR1)
    want_down = 1;
  else if (sig == SIGUSR2)
    want_up = 1;
  else
    stop_requested = 1;
}

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool earlier(const pending *a, const pending *b) {
  return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void heap_push(direction *d, pending p) {
  if (d->n == d->cap) {
    d->cap = d->cap ? d->cap * 2 : 256;
    d->heap = g_renew(pending, d->heap, d->cap);
  }
  size_t i = d->n++;
  while (i && earlier(&p, &d->heap[(i - 1) / 2])) {
    d->heap[i] = d->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  d->heap[i] = p;
}

static pending heap_pop(direction *d) {
  pending top = d->heap[0], last = d->heap[--d->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= d->n)
      break;
    if (c + 1 < d->n && earlier(&d->heap[c + 1], &d->heap[c]))
      c++;
    if (!earlier(&d->heap[c], &last))
      break;
    d->heap[i] = d->heap[c];
    i = c;
  }
  if (d->n)
    d->heap[i] = last;
  return top;
}

static int open_iface(const char *name) {
  unsigned idx = if_nametoindex(name);
  if (!idx) {
    fprintf(stderr, "linkem: no interface %s in this namespace\n", name);
    return -1;
  }
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) {
    fprintf(stderr, "linkem: AF_PACKET socket: %s (needs CAP_NET_RAW)\n", strerror(errno));
    return -1;
  }
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
                            .sll_ifindex = (int)idx};
  struct packet_mreq mr = {.mr_ifindex = (int)idx, .mr_type = PACKET_MR_PROMISC};
  int one = 1, rcvbuf = 4 << 20;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
    fprintf(stderr, "linkem: %s: %s\n", name, strerror(errno));
    close(fd);
    return -1;
  }
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  return fd;
}

/* One [down]/[up] group of the scenario into a model's configuration. */
static bool read_direction(GKeyFile *kf, const char *group, dc_impair_config *c, GError **error) {
  static const char *const known[] = {"rate-kbit", "queue-ms", "queue-bytes", "delay-ms", "jitter-ms",
                                      "loss-percent", "burst-packets", "reorder-percent", "reorder-ms", NULL};
  memset(c, 0, sizeof *c);
  if (!g_key_file_has_group(kf, group))
    return true; /* a clean direction */
  g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
  for (char **k = keys; k && *k; k++)
    if (!g_strv_contains(known, *k)) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                  "[%s] %s: unknown key (known: rate-kbit, queue-ms, queue-bytes, delay-ms, jitter-ms, "
                  "loss-percent, burst-packets, reorder-percent, reorder-ms)", group, *k);
      return false;
    }
  double v[9] = {0};
  for (int i = 0; known[i]; i++) {
    if (!g_key_file_has_key(kf, group, known[i], NULL))
      continue;
    GError *e = NULL;
    v[i] = g_key_file_get_double(kf, group, known[i], &e);
    if (e || v[i] < 0 || (i == 5 && v[i] > 100) || (i == 7 && v[i] > 100)) {
      g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                  "[%s] %s: want a number%s", group, known[i], i == 5 || i == 7 ? " from 0 to 100" : " >= 0");
      g_clear_error(&e);
      return false;
    }
  }
  c->rate_bps = v[0] * 1000;
  c->queue_bytes = v[2] ? (size_t)v[2] : (size_t)(c->rate_bps / 8 * v[1] / 1000);
  c->delay_us = (uint64_t)(v[3] * 1000);
  c->jitter_us = (uint64_t)(v[4] * 1000);
  c->loss = v[5] / 100;
  c->burst = v[6];
  c->reorder = v[7] / 100;
  c->reorder_us = (uint64_t)(v[8] * 1000);
  return true;
}

static void describe(const direction *d) {
  const dc_impair_config *c = &d->im.cfg;
  char rate[32] = "unlimited", burst[32] = "";
  if (c->rate_bps > 0)
    snprintf(rate, sizeof rate, "%.0f kbit/s", c->rate_bps / 1000);
  if (c->burst > 1)
    snprintf(burst, sizeof burst, " in runs of %.1f", c->burst);
  fprintf(stderr, "linkem: %-4s rate %s, queue %zu B, delay %.0f±%.0f ms, loss %.1f %%%s, reorder %.1f %%\n",
          d->name, rate, c->queue_bytes, c->delay_us / 1e3, c->jitter_us / 1e3, c->loss * 100, burst,
          c->reorder * 100);
}

static void print_stats(const direction *d, bool final) {
  const dc_impair_stats *s = &d->im.stats;
  printf("{\"event\":\"stats\",\"final\":%s,\"direction\":\"%s\",\"packets\":%" G_GUINT64_FORMAT
         ",\"bytes\":%" G_GUINT64_FORMAT ",\"passed\":%" G_GUINT64_FORMAT ",\"lost\":%" G_GUINT64_FORMAT
         ",\"loss_runs\":%" G_GUINT64_FORMAT ",\"queue_drops\":%" G_GUINT64_FORMAT ",\"outage_drops\":%" G_GUINT64_FORMAT
         ",\"reordered\":%" G_GUINT64_FORMAT ",\"mean_delay_ms\":%.1f,\"max_delay_ms\":%.1f,\"send_errors\":%" G_GUINT64_FORMAT "}\n",
         final ? "true" : "false", d->name, s->packets, s->bytes, s->passed, s->lost, s->loss_runs,
         s->queue_drops, s->outage_drops, s->reordered, s->passed ? s->delay_sum_us / 1e3 / (double)s->passed : 0,
         s->delay_max_us / 1e3, d->send_errors);
  fflush(stdout);
}

static gboolean log_drops, no_schedule; /* GOption writes a gboolean */
static gint64 log_backlog_ms;
static uint64_t started_us;

/* --log-drops: a frame the full queue dropped or the loss took, with what it was (a burst that
 * overflows a thin link's queue says who sent it; a flow whose resends are all lost, which);
 * --log-backlog: one that met a queue of backlog_us (what filled it, and what waited). */
static void log_frame(const direction *d, const char *event, const uint8_t *frame, size_t len, uint64_t now,
                      uint64_t backlog_us) {
  const uint8_t *ip = frame + ETH_HEADER;
  size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  unsigned proto = len > ETH_HEADER + 9 ? ip[9] : 0, sport = 0, dport = 0;
  if ((proto == 6 || proto == 17) && len >= ETH_HEADER + ihl + 4) {
    sport = (unsigned)ip[ihl] << 8 | ip[ihl + 1];
    dport = (unsigned)ip[ihl + 2] << 8 | ip[ihl + 3];
  }
  /* an RTP packet's payload type and SSRC (SRTP leaves the header in the clear; -1: not RTP) */
  int pt = -1;
  uint32_t ssrc = 0;
  const uint8_t *udp = ip + ihl + 8;
  if (proto == 17 && len >= ETH_HEADER + ihl + 8 + 12 && udp[0] >= 128 && udp[0] <= 191 &&
      !(udp[1] >= 192 && udp[1] <= 223)) {
    pt = udp[1] & 0x7f;
    ssrc = (uint32_t)udp[8] << 24 | (uint32_t)udp[9] << 16 | (uint32_t)udp[10] << 8 | udp[11];
  }
  printf("{\"event\":\"%s\",\"direction\":\"%s\",\"at_s\":%.3f,\"bytes\":%zu,\"proto\":%u,\"sport\":%u,"
         "\"dport\":%u,\"pt\":%d,\"ssrc\":%u,\"backlog_ms\":%.0f}\n",
         event, d->name, (now - started_us) / 1e6, len - ETH_HEADER, proto, sport, dport, pt, ssrc, backlog_us / 1e3);
  fflush(stdout);
}

static unsigned flow_of(direction *d, const uint8_t *frame, size_t len) {
  const uint8_t *ip = frame + ETH_HEADER;
  size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
  if (len < ETH_HEADER + 20 || ihl < 20 || len < ETH_HEADER + ihl + 8)
    return FLOW_OTHER;
  if (ip[9] == 6)
    return FLOW_TCP;
  if (ip[9] != 17)
    return FLOW_OTHER;
  const uint8_t *udp = ip + ihl + 8;
  size_t n = len - ETH_HEADER - ihl - 8;
  if (n < 12 || udp[0] < 128 || udp[0] > 191)
    return FLOW_UDP;
  if (udp[1] >= 192 && udp[1] <= 223)
    return FLOW_RTCP;
  uint32_t ssrc = (uint32_t)udp[8] << 24 | (uint32_t)udp[9] << 16 | (uint32_t)udp[10] << 8 | udp[11];
  for (unsigned i = 0; i < d->n_ssrcs; i++)
    if (d->ssrcs[i] == ssrc)
      return FLOW_RTP + i;
  if (d->n_ssrcs < RTP_FLOWS)
    d->ssrcs[d->n_ssrcs++] = ssrc;
  return FLOW_RTP + MIN(d->n_ssrcs, (unsigned)RTP_FLOWS) - 1;
}

/* Reads what arrived on d's input: frames the model keeps go on d's heap. */
static void receive(direction *d, bool link_up, uint8_t *buf) {
  for (int i = 0; i < 256; i++) {
    ssize_t n = recv(d->in_fd, buf, MAX_FRAME, 0);
    if (n <= 0)
      return;
    uint64_t now = now_us(), due = now;
    bool ip = n > ETH_HEADER && buf[12] == 0x08 && buf[13] == 0x00;
    if (!ip && !link_up)
      continue;
    uint64_t ahead = d->im.busy_until > now ? d->im.busy_until - now : 0; /* the queue it meets */
    dc_impair_fate r = ip ? dc_impair_packet(&d->im, flow_of(d, buf, (size_t)n), now, (size_t)n - ETH_HEADER, link_up, &due)
                          : DC_IMPAIR_PASS;
    if ((r == DC_IMPAIR_QUEUE || r == DC_IMPAIR_LOST) && log_drops)
      log_frame(d, r == DC_IMPAIR_QUEUE ? "queue_drop" : "lost", buf, (size_t)n, now, ahead);
    if (ip && log_backlog_ms > 0 && ahead >= (uint64_t)log_backlog_ms * 1000)
      log_frame(d, "backlog", buf, (size_t)n, now, ahead);
    if (r != DC_IMPAIR_PASS)
      continue;
    heap_push(d, (pending){due, d->order++, (size_t)n, g_memdup2(buf, (gsize)n)});
  }
}

/* Writes d's frames that are due; returns the next due time, or 0 if none waits. */
static uint64_t deliver(direction *d) {
  uint64_t now = now_us();
  while (d->n && d->heap[0].due <= now) {
    pending p = heap_pop(d);
    if (send(d->out_fd, p.frame, p.len, 0) < 0)
      d->send_errors++;
    g_free(p.frame);
  }
  return d->n ? d->heap[0].due : 0;
}

int main(int argc, char **argv) {
  const char *a_if = NULL, *b_if = NULL;
  gint64 seed = 1, stats_every = 0;
  g_auto(GStrv) sets = NULL;
  GOptionEntry entries[] = {
      {"a", 0, 0, G_OPTION_ARG_STRING, &a_if, "the district side's interface (in this namespace)", "IFACE"},
      {"b", 0, 0, G_OPTION_ARG_STRING, &b_if, "the point side's interface", "IFACE"},
      {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the random draws (default 1)", "N"},
      {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "override a scenario key, e.g. down.loss-percent=5", "GROUP.KEY=VALUE"},
      {"stats-every", 0, 0, G_OPTION_ARG_INT64, &stats_every, "print statistics every S seconds", "S"},
      {"log-drops", 0, 0, G_OPTION_ARG_NONE, &log_drops, "print every frame the full queue dropped or the loss took", NULL},
      {"log-backlog", 0, 0, G_OPTION_ARG_INT64, &log_backlog_ms,
       "print every frame that met a queue of MS or more (what filled it: an RTP packet's payload type and SSRC)", "MS"},
      {"no-schedule", 0, 0, G_OPTION_ARG_NONE, &no_schedule, "no scheduled outage: the caller takes it by signal", NULL},
      {NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new("SCENARIO — a slow, lossy link between two interfaces");
  g_option_context_add_main_entries(ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 || !a_if || !b_if) {
    fprintf(stderr, "linkem: %s\nusage: linkem SCENARIO --a IFACE --b IFACE [--seed N] [--set GROUP.KEY=VALUE]... "
                    "[--stats-every S] [--log-drops] [--log-backlog MS] [--no-schedule] (--help says what each does)\n",
            error ? error->message : "a scenario file and both interfaces are needed");
    return 2;
  }
  g_autoptr(GKeyFile) kf = g_key_file_new();
  if (!g_key_file_load_from_file(kf, argv[1], G_KEY_FILE_NONE, &error)) {
    fprintf(stderr, "linkem: %s: %s\n", argv[1], error->message);
    return 2;
  }
  for (char **s = sets; s && *s; s++) {
    char *dot = strchr(*s, '.'), *eq = strchr(*s, '=');
    if (!dot || !eq || eq < dot) {
      fprintf(stderr, "linkem: --set %s: want GROUP.KEY=VALUE\n", *s);
      return 2;
    }
    g_autofree char *group = g_strndup(*s, (gsize)(dot - *s)), *key = g_strndup(dot + 1, (gsize)(eq - dot - 1));
    g_key_file_set_value(kf, group, key, eq + 1);
  }
  direction dirs[2] = {{.name = "down"}, {.name = "up"}};
  dc_impair_config cfg[2];
  if (!read_direction(kf, "down", &cfg[0], &error) || !read_direction(kf, "up", &cfg[1], &error)) {
    fprintf(stderr, "linkem: %s: %s\n", argv[1], error->message);
    return 2;
  }
  double outage_at = 0, outage_for = 0;
  if (g_key_file_has_key(kf, "link", "outage-at-s", NULL)) {
    outage_at = g_key_file_get_double(kf, "link", "outage-at-s", NULL);
    outage_for = g_key_file_get_double(kf, "link", "outage-for-s", NULL);
    if (outage_at <= 0 || outage_for <= 0) {
      fprintf(stderr, "linkem: %s: [link] outage-at-s and outage-for-s must both be > 0\n", argv[1]);
      return 2;
    }
  }
  for (int i = 0; i < 2; i++)
    dc_impair_init(&dirs[i].im, &cfg[i], (uint64_t)seed * 2 + (uint64_t)i);
  int fa = open_iface(a_if), fb = open_iface(b_if);
  if (fa < 0 || fb < 0)
    return 1;
  dirs[0].in_fd = fa, dirs[0].out_fd = fb;
  dirs[1].in_fd = fb, dirs[1].out_fd = fa;
  struct sigaction sa = {.sa_handler = on_signal};
  for (int s = 0; s < 5; s++)
    sigaction((int[]){SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP}[s], &sa, NULL);

  g_autofree char *description = g_key_file_get_string(kf, "link", "description", NULL);
  fprintf(stderr, "linkem: %s — %s (seed %" G_GINT64_FORMAT ")\n", argv[1], description ? description : "", seed);
  describe(&dirs[0]);
  describe(&dirs[1]);
  if (no_schedule)
    outage_for = 0;
  if (outage_for > 0)
    fprintf(stderr, "linkem: outage from %.1f s for %.1f s\n", outage_at, outage_for);
  printf("{\"event\":\"ready\"}\n");
  fflush(stdout);

  uint8_t *buf = g_malloc(MAX_FRAME);
  uint64_t start = started_us = now_us(), next_stats = stats_every > 0 ? start + (uint64_t)stats_every * 1000000u : 0;
  bool link_up = true, scheduled_done = outage_for <= 0;
  while (!stop_requested) {
    uint64_t now = now_us();
    bool was_up = link_up;
    if (want_down)
      link_up = false, want_down = 0;
    if (want_up)
      link_up = true, want_up = 0;
    if (!scheduled_done && link_up && now >= start + (uint64_t)(outage_at * 1e6) &&
        now < start + (uint64_t)((outage_at + outage_for) * 1e6))
      link_up = false;
    else if (!scheduled_done && !link_up && now >= start + (uint64_t)((outage_at + outage_for) * 1e6))
      link_up = true, scheduled_done = true;
    if (was_up != link_up) {
      printf("{\"event\":\"outage\",\"up\":%s,\"at_s\":%.3f}\n", link_up ? "true" : "false", (now - start) / 1e6);
      fflush(stdout);
      fprintf(stderr, "linkem: link %s at %.1f s\n", link_up ? "back up" : "down", (now - start) / 1e6);
    }
    uint64_t next = 0;
    for (int i = 0; i < 2; i++) {
      uint64_t due = deliver(&dirs[i]);
      if (due && (!next || due < next))
        next = due;
    }
    if (next_stats && now >= next_stats) {
      print_stats(&dirs[0], false);
      print_stats(&dirs[1], false);
      next_stats += (uint64_t)stats_every * 1000000u;
    }
    /* wake for the next frame due, or at least every 50 ms for signals and the schedule */
    uint64_t wait = next ? (next > now ? next - now : 0) : 50000;
    if (wait > 50000)
      wait = 50000;
    struct pollfd pfd[2] = {{fa, POLLIN, 0}, {fb, POLLIN, 0}};
    struct timespec ts = {(time_t)(wait / 1000000u), (long)(wait % 1000000u) * 1000};
    if (ppoll(pfd, 2, &ts, NULL) < 0 && errno != EINTR) {
      fprintf(stderr, "linkem: poll: %s\n", strerror(errno));
      break;
    }
    if (pfd[0].revents & POLLIN)
      receive(&dirs[0], link_up, buf);
    if (pfd[1].revents & POLLIN)
      receive(&dirs[1], link_up, buf);
  }
  print_stats(&dirs[0], true);
  print_stats(&dirs[1], true);
  for (int i = 0; i < 2; i++) {
    while (dirs[i].n)
      g_free(heap_pop(&dirs[i]).frame);
    g_free(dirs[i].heap);
  }
  g_free(buf);
  close(fa);
  close(fb);
  return 0;
}
