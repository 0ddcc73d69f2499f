/* uring.c — a batch of sendmsg requests in one system call; see uring.h. */
#include "bridge/uring.h"

#include <errno.h>
#include <glib.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct dc_uring {
  int fd;
  unsigned entries;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
  void *sq_map, *cq_map;
  size_t sq_map_len, cq_map_len, sqes_len;
  unsigned tail;   /* our submission tail, published to the kernel in dc_uring_run */
  unsigned queued; /* requests queued since the last run */
};

/* Required, not merely asked for: SUBMIT_ALL so that a request the kernel refuses at
 * submission does not leave the ones after it in the ring, and SINGLE_ISSUER (Linux 6.0)
 * because from 5.19 a MSG_DONTWAIT send that finds its socket full fails instead of waiting
 * for room: a kernel without it gets no ring, and the outbox sends as before. */
#define SETUP_FLAGS (IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER)

dc_uring *dc_uring_new(unsigned entries) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = SETUP_FLAGS;
  int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
  if (fd < 0)
    return NULL;
  dc_uring *r = g_new0(dc_uring, 1);
  r->fd = fd;
  r->entries = p.sq_entries;
  r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP)
    r->sq_map_len = r->cq_map_len = MAX(r->sq_map_len, r->cq_map_len);
  r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  r->cq_map = p.features & IORING_FEAT_SINGLE_MMAP
                  ? r->sq_map
                  : mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (r->sq_map == MAP_FAILED || r->cq_map == MAP_FAILED || r->sqes == MAP_FAILED) {
    int saved = errno;
    dc_uring_free(r);
    errno = saved;
    return NULL;
  }
  char *sq = r->sq_map, *cq = r->cq_map;
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  r->tail = *r->sq_tail;
  return r;
}

void dc_uring_free(dc_uring *r) {
  if (!r)
    return;
  if (r->sqes && r->sqes != MAP_FAILED)
    munmap(r->sqes, r->sqes_len);
  if (r->cq_map && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
    munmap(r->cq_map, r->cq_map_len);
  if (r->sq_map && r->sq_map != MAP_FAILED)
    munmap(r->sq_map, r->sq_map_len);
  close(r->fd);
  g_free(r);
}

unsigned dc_uring_room(const dc_uring *r) { return r->entries - r->queued; }

static bool queue(dc_uring *r, uint8_t opcode, int fd, const struct msghdr *m, uint32_t msg_flags, uint64_t user_data) {
  if (r->queued == r->entries)
    return false;
  unsigned at = r->tail & *r->sq_mask;
  struct io_uring_sqe *sqe = &r->sqes[at];
  memset(sqe, 0, sizeof *sqe);
  sqe->opcode = opcode;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)m;
  sqe->len = 1;
  sqe->msg_flags = msg_flags;
  sqe->user_data = user_data;
  r->sq_array[at] = at;
  r->tail++;
  r->queued++;
  return true;
}

bool dc_uring_queue_sendmsg(dc_uring *r, int fd, const struct msghdr *m, uint64_t user_data) {
  return queue(r, IORING_OP_SENDMSG, fd, m, MSG_DONTWAIT | MSG_NOSIGNAL, user_data);
}

bool dc_uring_queue_recvmsg(dc_uring *r, int fd, struct msghdr *m, uint64_t user_data) {
  return queue(r, IORING_OP_RECVMSG, fd, m, MSG_DONTWAIT, user_data);
}

static unsigned reap(dc_uring *r, void (*done)(uint64_t, int, void *), void *data) {
  unsigned head = *r->cq_head, n = 0;
  unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
  for (; head != tail; head++, n++) {
    const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
    done(c->user_data, c->res, data);
  }
  __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
  return n;
}

static int enter(dc_uring *r, unsigned to_submit, unsigned min_complete, unsigned flags) {
  int ret;
  do
    ret = (int)syscall(__NR_io_uring_enter, r->fd, to_submit, min_complete, flags, NULL, 0);
  while (ret < 0 && errno == EINTR);
  return ret;
}

unsigned dc_uring_run(dc_uring *r, void (*done)(uint64_t user_data, int result, void *data), void *data) {
  if (!r->queued)
    return 0;
  __atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
  unsigned calls = 0, submitted = 0, completed = 0, want = r->queued;
  /* Submitted without waiting: each request (MSG_DONTWAIT) completes as the kernel takes it, so the
   * completions are there when the call returns, and a second call waits only for any
   * that did not (none seen). */
  while (submitted < want) {
    int ret = enter(r, want - submitted, 0, 0);
    calls++;
    if (ret <= 0)
      break; /* refused outright (EBUSY, ENOMEM, ...), or took nothing: the rest is not done */
    submitted += (unsigned)ret;
    completed += reap(r, done, data);
  }
  if (submitted < want) {
    /* what the kernel never took: withdrawn from the ring, and told as not sent */
    unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    for (unsigned i = head; i != r->tail; i++)
      done(r->sqes[r->sq_array[i & *r->sq_mask]].user_data, -ECANCELED, data);
    r->tail = head;
    __atomic_store_n(r->sq_tail, head, __ATOMIC_RELEASE);
  }
  while (completed < submitted) {
    completed += reap(r, done, data);
    if (completed < submitted) {
      calls++;
      if (enter(r, 0, submitted - completed, IORING_ENTER_GETEVENTS) < 0) {
        g_warning("io_uring: waiting for %u requests failed: %s", submitted - completed, g_strerror(errno));
        break;
      }
    }
  }
  r->queued = 0;
  return calls;
}
