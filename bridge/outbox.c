/* outbox.c — held datagrams sent together at a pass's end; see outbox.h. */
#include "bridge/outbox.h"

#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdatomic.h>
#include <string.h>

#include "bridge/metrics.h"
#include "bridge/uring.h"
#include "bridge/worker.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103 /* linux/udp.h, Linux 4.18 */
#endif

/* A pass's worth: 1024 packets and 1.5 MiB, touched only as far as a pass fills it. A full
 * outbox is sent at once and fills again. */
#define HELD_MAX 1024
#define ARENA_BYTES (HELD_MAX * 1500)
/* One GSO call: the kernel's limit on segments (UDP_MAX_SEGMENTS) and a UDP datagram's. */
#define RUN_SEGMENTS 64
#define RUN_BYTES 60000

typedef struct {
  dc_outbox_sender *sender;
  uint32_t offset;
  uint16_t len;
  int32_t next; /* the sender's next held packet; -1: its last */
} held;

/* One send handed to the ring: a sender's run (GSO) or one packet, and the sendmsg saying so. */
typedef struct {
  dc_outbox_sender *sender;
  uint16_t iov, n;  /* its packets: the ring's iovs [iov, iov + n) */
  uint16_t segment; /* n > 1: the run's segment size (GSO) */
  struct msghdr msg;
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control;
} ring_send;

/* What a pass to many peers goes out by (uring.h): the thread's ring and the sends it holds.
 * Made at the first flush with two or more peers; none when the kernel refuses a ring. */
typedef struct {
  dc_uring *ring;
  struct iovec iovs[HELD_MAX];
  ring_send sends[HELD_MAX];
  unsigned n_iovs, n_sends;
} ring_batch;

typedef struct {
  uint8_t *arena;
  size_t used;
  held packets[HELD_MAX];
  unsigned n;
  dc_outbox_sender *senders[HELD_MAX]; /* those holding packets, in the order they began */
  unsigned n_senders;
  gint64 first_held_us; /* when the first of what is held came: one clock read a pass */
  ring_batch *batch;    /* NULL until a flush to two or more peers asks for it */
  bool ring_tried;
} outbox;

static atomic_uint_fast64_t calls, sends, packets, gso_calls, gso_packets, ring_sends;
static atomic_bool gso_refused; /* EIO once: this host's path cannot segment */
static atomic_bool ring_off;    /* dc_outbox_use_ring(false) */
static atomic_bool ring_refusal_told;

static void outbox_free(gpointer data) {
  outbox *ob = data;
  if (ob->batch)
    dc_uring_free(ob->batch->ring);
  g_free(ob->batch);
  g_free(ob->arena);
  g_free(ob);
}

static GPrivate this_outbox = G_PRIVATE_INIT(outbox_free);

static outbox *get_outbox(void) {
  outbox *ob = g_private_get(&this_outbox);
  if (!ob) {
    ob = g_new0(outbox, 1);
    ob->arena = g_malloc(ARENA_BYTES);
    g_private_set(&this_outbox, ob);
  }
  return ob;
}

/* A system call that sent by itself: one send. */
static void count(uint64_t n_calls, uint64_t n_packets) {
  atomic_fetch_add_explicit(&calls, n_calls, memory_order_relaxed);
  atomic_fetch_add_explicit(&sends, n_calls, memory_order_relaxed);
  atomic_fetch_add_explicit(&packets, n_packets, memory_order_relaxed);
}

void dc_outbox_sender_init(dc_outbox_sender *s, int fd, const struct sockaddr_storage *peer,
                           const socklen_t *peer_len) {
  *s = (dc_outbox_sender){.fd = fd, .peer = peer, .peer_len = peer_len, .head = -1, .tail = -1, .open_run = 0};
}

static bool send_one(const dc_outbox_sender *s, const uint8_t *buf, size_t len) {
  count(1, 1);
  return sendto(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)s->peer, *s->peer_len) ==
         (ssize_t)len;
}

static void send_each(const dc_outbox_sender *s, struct iovec *iov, unsigned n) {
  struct mmsghdr msgs[RUN_SEGMENTS];
  for (unsigned i = 0; i < n; i++)
    msgs[i].msg_hdr = (struct msghdr){.msg_name = (void *)s->peer, .msg_namelen = *s->peer_len, .msg_iov = &iov[i],
                                      .msg_iovlen = 1};
  for (unsigned done = 0; done < n;) {
    int k = sendmmsg(s->fd, msgs + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    count(1, k > 0 ? (uint64_t)k : 0);
    if (k <= 0)
      return; /* the socket's buffer is full, or an error: the rest is lost, as sendto lost it */
    done += (unsigned)k;
  }
}

/* n packets of segment bytes each, the last maybe shorter: one datagram the kernel cuts. */
static void send_run(const dc_outbox_sender *s, struct iovec *iov, unsigned n, uint16_t segment) {
  if (n == 1) {
    send_one(s, iov[0].iov_base, iov[0].iov_len);
    return;
  }
  if (!atomic_load_explicit(&gso_refused, memory_order_relaxed)) {
    union {
      char buf[CMSG_SPACE(sizeof(uint16_t))];
      struct cmsghdr align;
    } control;
    struct msghdr m = {.msg_name = (void *)s->peer, .msg_namelen = *s->peer_len, .msg_iov = iov, .msg_iovlen = n,
                       .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &segment, sizeof segment);
    if (sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
      count(1, n);
      atomic_fetch_add_explicit(&gso_calls, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&gso_packets, n, memory_order_relaxed);
      return;
    }
    if (errno == EAGAIN || errno == ENOBUFS) {
      count(1, 0);
      return; /* lost, as n sendto calls would have lost them */
    }
    if (errno == EIO || errno == ENOPROTOOPT || errno == EOPNOTSUPP)
      atomic_store(&gso_refused, true); /* no segmentation on this path: sendmmsg from now on */
    /* else (EINVAL: a segment beyond the path's MTU, say) this run goes one by one */
  }
  send_each(s, iov, n);
}

/* The run of s's held packets that starts at packet i, into iov: with GSO, packets of one
 * size (a shorter one ends it) up to the kernel's limits; without, up to RUN_SEGMENTS of any
 * size. Returns the packet after it (-1: none). */
static int32_t cut_run(const outbox *ob, int32_t i, bool gso, struct iovec *iov, unsigned *n_out, uint16_t *segment_out) {
  uint16_t segment = ob->packets[i].len;
  unsigned n = 0;
  size_t bytes = 0;
  while (i >= 0 && n < RUN_SEGMENTS && (!gso || (bytes + ob->packets[i].len <= RUN_BYTES && ob->packets[i].len <= segment))) {
    const held *h = &ob->packets[i];
    iov[n++] = (struct iovec){ob->arena + h->offset, h->len};
    bytes += h->len;
    i = h->next;
    if (gso && h->len < segment)
      break;
  }
  *n_out = n;
  *segment_out = segment;
  return i;
}

/* A sender's held packets now, a system call a run: runs of one size (a shorter one ends its
 * run) by GSO; without it, all of them by sendmmsg. */
static void send_held(outbox *ob, dc_outbox_sender *s) {
  struct iovec iov[RUN_SEGMENTS];
  bool gso = !atomic_load_explicit(&gso_refused, memory_order_relaxed);
  for (int32_t i = s->head; i >= 0;) {
    unsigned n;
    uint16_t segment;
    i = cut_run(ob, i, gso, iov, &n, &segment);
    if (gso)
      send_run(s, iov, n, segment);
    else if (n == 1)
      send_one(s, iov[0].iov_base, iov[0].iov_len);
    else
      send_each(s, iov, n);
  }
  s->head = s->tail = -1;
  s->open_run = 0;
}

/* The ring's sends done: counted, and what the kernel would not take by GSO or never took
 * sent as send_held would have. */
static void ring_send_done(uint64_t user_data, int result, void *data) {
  ring_batch *b = data;
  ring_send *q = &b->sends[user_data];
  struct iovec *iov = &b->iovs[q->iov];
  if (result != -ECANCELED) { /* a send the kernel made, whatever came of it; else the fallback's call counts */
    atomic_fetch_add_explicit(&sends, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ring_sends, 1, memory_order_relaxed);
  }
  if (result >= 0) {
    atomic_fetch_add_explicit(&packets, q->n, memory_order_relaxed);
    if (q->n > 1) {
      atomic_fetch_add_explicit(&gso_calls, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&gso_packets, q->n, memory_order_relaxed);
    }
    return;
  }
  if (result == -ECANCELED) { /* not taken: the kernel refused the batch */
    if (q->n == 1)
      send_one(q->sender, iov[0].iov_base, iov[0].iov_len);
    else
      send_run(q->sender, iov, q->n, q->segment);
    return;
  }
  if (q->n == 1 || result == -EAGAIN || result == -ENOBUFS)
    return; /* lost, as sendto would have lost it */
  if (result == -EIO || result == -ENOPROTOOPT || result == -EOPNOTSUPP)
    atomic_store(&gso_refused, true); /* as send_run: sendmmsg from now on */
  send_each(q->sender, iov, q->n);
}

static void ring_run(ring_batch *b) {
  unsigned n_calls = dc_uring_run(b->ring, ring_send_done, b);
  atomic_fetch_add_explicit(&calls, n_calls, memory_order_relaxed);
  b->n_sends = b->n_iovs = 0;
}

static void ring_queue(ring_batch *b, dc_outbox_sender *s, const struct iovec *iov, unsigned n, uint16_t segment) {
  if (b->n_sends == HELD_MAX || b->n_iovs + n > HELD_MAX || !dc_uring_room(b->ring))
    ring_run(b);
  ring_send *q = &b->sends[b->n_sends];
  *q = (ring_send){.sender = s, .iov = (uint16_t)b->n_iovs, .n = (uint16_t)n, .segment = segment};
  memcpy(&b->iovs[b->n_iovs], iov, n * sizeof *iov);
  q->msg = (struct msghdr){.msg_name = (void *)s->peer, .msg_namelen = *s->peer_len, .msg_iov = &b->iovs[b->n_iovs],
                           .msg_iovlen = n};
  if (n > 1) {
    q->msg.msg_control = q->control.buf;
    q->msg.msg_controllen = sizeof q->control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&q->msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &segment, sizeof segment);
  }
  dc_uring_queue_sendmsg(b->ring, s->fd, &q->msg, b->n_sends); /* room: checked above */
  b->n_iovs += n;
  b->n_sends++;
}

/* Every sender's held packets in as few system calls as the ring allows: each run (or,
 * without GSO, each packet) one sendmsg of the batch. */
static void send_all_by_ring(outbox *ob) {
  ring_batch *b = ob->batch;
  bool gso = !atomic_load_explicit(&gso_refused, memory_order_relaxed);
  struct iovec iov[RUN_SEGMENTS];
  for (unsigned k = 0; k < ob->n_senders; k++) {
    dc_outbox_sender *s = ob->senders[k];
    for (int32_t i = s->head; i >= 0;) {
      unsigned n;
      uint16_t segment;
      i = cut_run(ob, i, gso, iov, &n, &segment);
      if (gso)
        ring_queue(b, s, iov, n, segment);
      else
        for (unsigned j = 0; j < n; j++)
          ring_queue(b, s, &iov[j], 1, 0);
    }
    s->head = s->tail = -1;
    s->open_run = 0;
  }
  ring_run(b);
}

/* The thread's ring, made at its first flush to several peers; NULL where the kernel has none
 * (said once in the log: the outbox then sends a system call a peer, as before rings). */
static ring_batch *ring_for(outbox *ob) {
  if (atomic_load_explicit(&ring_off, memory_order_relaxed))
    return NULL;
  if (!ob->ring_tried) {
    ob->ring_tried = true;
    dc_uring *r = dc_uring_new(HELD_MAX);
    if (r) {
      ob->batch = g_new0(ring_batch, 1);
      ob->batch->ring = r;
    } else if (!atomic_exchange(&ring_refusal_told, true)) {
      g_message("no io_uring here (%s): media datagrams are sent and read by a system call a peer", g_strerror(errno));
    }
  }
  return ob->batch;
}

static void flush(outbox *ob) {
  if (ob->n) /* the longest any of it waited: the first held */
    dc_metrics_observe_hold((uint64_t)MAX(g_get_monotonic_time() - ob->first_held_us, 0));
  if (ob->n_senders >= 2 && ring_for(ob))
    send_all_by_ring(ob);
  else
    for (unsigned k = 0; k < ob->n_senders; k++)
      send_held(ob, ob->senders[k]);
  ob->n = 0;
  ob->used = 0;
  ob->n_senders = 0;
}

static void flush_at_pass_end(gpointer data) { flush(data); }

void dc_outbox_flush(void) {
  outbox *ob = g_private_get(&this_outbox);
  if (ob)
    flush(ob);
}

bool dc_outbox_send(dc_outbox_sender *s, const uint8_t *buf, size_t len) {
  if (len > DC_OUTBOX_PACKET_MAX || s->fd < 0)
    return false;
  outbox *ob = get_outbox();
  if (!dc_worker_at_pass_end(flush_at_pass_end, ob))
    return send_one(s, buf, len);
  if (ob->n == HELD_MAX || ob->used + len > ARENA_BYTES)
    flush(ob);
  if (ob->n == 0)
    ob->first_held_us = g_get_monotonic_time();
  held *h = &ob->packets[ob->n];
  *h = (held){s, (uint32_t)ob->used, (uint16_t)len, -1};
  memcpy(ob->arena + ob->used, buf, len);
  ob->used += len;
  if (s->tail >= 0)
    ob->packets[s->tail].next = (int32_t)ob->n;
  else {
    s->head = (int32_t)ob->n;
    ob->senders[ob->n_senders++] = s;
  }
  s->tail = (int32_t)ob->n++;
  /* the run send_held will cut here: a longer packet starts one, a shorter one ends it */
  if (len > s->open_run || !s->open_run)
    s->open_run = (uint16_t)len;
  else if (len < s->open_run)
    s->open_run = 0;
  return true;
}

size_t dc_outbox_open_run(const dc_outbox_sender *s) {
  /* without GSO a peer's packets go in one sendmmsg whatever their lengths: nothing to pad */
  return s->tail >= 0 && !atomic_load_explicit(&gso_refused, memory_order_relaxed) ? s->open_run : 0;
}

void dc_outbox_use_gso(bool use) { atomic_store(&gso_refused, !use); }

void dc_outbox_use_ring(bool use) { atomic_store(&ring_off, !use); }

dc_outbox_stats dc_outbox_get_stats(void) {
  return (dc_outbox_stats){atomic_load(&calls), atomic_load(&sends), atomic_load(&packets), atomic_load(&gso_calls),
                           atomic_load(&gso_packets), atomic_load(&ring_sends)};
}
