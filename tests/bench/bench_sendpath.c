/* bench_sendpath — what this machine's kernel charges to send a participant's datagram, the
 * floor under issue 15's "1000 audio participants in half a core", and what sending a peer's
 * run of datagrams in one call saves (bridge/outbox.h).
 *
 * N sockets of ours (a participant's each, as the bridge has) each send one 120-byte datagram
 * a round to a socket of N receivers on loopback (the load generator's side), R rounds, 2 ms
 * apart as a mix tick's burst. Measured: this process's CPU a datagram (user + system, which
 * on loopback includes delivering it into the receiver's socket, as the bridge's does), for
 *   - sendto, one system call a datagram (what the bridge did);
 *   - io_uring, a round's N sendmsg submitted and reaped with one io_uring_enter: the bridge's
 *     own ring (bridge/uring.h), as its outbox sends a pass to many peers;
 * each with the receiving side asleep in epoll_wait and woken by the datagrams (as the
 * generator is), and with nobody reading (the kernel queues and then drops: no wake-ups).
 * Then a video frame's run: each socket sends 4 (and 8) datagrams of 1000 bytes a round to
 * its peer, by sendto each, by one sendmmsg, and by one UDP GSO sendmsg (UDP_SEGMENT), the
 * receiver woken. Prints a table and the ratio of each to sendto's.
 */
#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bridge/uring.h"

enum { N = 500, ROUNDS = 400, LEN = 120, RUN_MAX = 8, RUN_LEN = 1000 };

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static int senders[N], receivers[N];
static struct sockaddr_in to[N];

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void count_sent(uint64_t user_data, int result, void *data) {
  long *sent_failed = data;
  sent_failed[result == LEN ? 0 : 1]++;
}

/* The receiving side: reads everything, asleep in epoll_wait between datagrams. */
static pid_t start_reader(void) {
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  int ep = epoll_create1(0);
  for (int i = 0; i < N; i++) {
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, receivers[i], &e);
  }
  struct epoll_event ev[256];
  static char b[65536]; /* a run read whole, with UDP_GRO */
  for (;;) {
    int n = epoll_wait(ep, ev, 256, -1);
    for (int k = 0; k < n; k++)
      while (recv(receivers[ev[k].data.u32], b, sizeof b, 0) > 0) {
      }
  }
}

/* CPU a datagram, in microseconds; *failed counts datagrams not sent. */
static double run(bool uring, bool reader, long *failed) {
  static char payload[LEN];
  static struct iovec iov[N];
  static struct msghdr mh[N];
  for (int i = 0; i < N; i++) {
    iov[i] = (struct iovec){payload, LEN};
    mh[i] = (struct msghdr){.msg_name = &to[i], .msg_namelen = sizeof to[i], .msg_iov = &iov[i], .msg_iovlen = 1};
  }
  dc_uring *r = NULL;
  if (uring && !(r = dc_uring_new(1024))) {
    *failed = -1;
    return 0;
  }
  pid_t child = reader ? start_reader() : 0;
  g_usleep(100000);
  long sent = 0;
  *failed = 0;
  double t0 = cpu_s();
  for (int round = 0; round < ROUNDS; round++) {
    if (!uring) {
      for (int i = 0; i < N; i++)
        sendto(senders[i], payload, LEN, 0, (struct sockaddr *)&to[i], sizeof to[i]) == LEN ? sent++ : (*failed)++;
    } else {
      long sent_failed[2] = {0, 0};
      for (int i = 0; i < N; i++)
        dc_uring_queue_sendmsg(r, senders[i], &mh[i], (uint64_t)i);
      dc_uring_run(r, count_sent, sent_failed);
      sent += sent_failed[0];
      *failed += sent_failed[1];
    }
    g_usleep(2000);
  }
  double us = (cpu_s() - t0) * 1e6 / (double)(sent ? sent : 1);
  if (child) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  dc_uring_free(r);
  return us;
}

typedef enum { EACH, MMSG, GSO, GSO_GRO } run_way;

/* UDP_GRO on the receivers: a GSO datagram arrives in their socket whole, as a NIC's GRO
 * hands a socket that asked for it a run of one flow's datagrams. */
static void receivers_gro(int on) {
  for (int i = 0; i < N; i++)
    setsockopt(receivers[i], SOL_UDP, UDP_GRO, &on, sizeof on);
}

/* A run of k datagrams of RUN_LEN bytes from each socket a round, sent one way; CPU a
 * datagram in microseconds; *failed counts calls that failed. */
static double run_frames(run_way way, int k, long *failed) {
  static char payload[RUN_MAX][RUN_LEN];
  struct iovec iov[RUN_MAX];
  struct mmsghdr mm[RUN_MAX];
  for (int j = 0; j < k; j++)
    iov[j] = (struct iovec){payload[j], RUN_LEN};
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control;
  receivers_gro(way == GSO_GRO);
  pid_t child = start_reader();
  g_usleep(100000);
  long sent = 0;
  *failed = 0;
  double t0 = cpu_s();
  for (int round = 0; round < ROUNDS / 4; round++) {
    for (int i = 0; i < N; i++) {
      struct sockaddr *dst = (struct sockaddr *)&to[i];
      if (way == EACH) {
        for (int j = 0; j < k; j++)
          sendto(senders[i], payload[j], RUN_LEN, 0, dst, sizeof to[i]) == RUN_LEN ? sent++ : (*failed)++;
      } else if (way == MMSG) {
        for (int j = 0; j < k; j++)
          mm[j].msg_hdr = (struct msghdr){.msg_name = dst, .msg_namelen = sizeof to[i], .msg_iov = &iov[j], .msg_iovlen = 1};
        int n = sendmmsg(senders[i], mm, (unsigned)k, 0);
        n == k ? (sent += k) : (*failed)++;
      } else {
        struct msghdr m = {.msg_name = dst, .msg_namelen = sizeof to[i], .msg_iov = iov, .msg_iovlen = (size_t)k,
                           .msg_control = control.buf, .msg_controllen = sizeof control.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_UDP, c->cmsg_type = UDP_SEGMENT, c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment = RUN_LEN;
        memcpy(CMSG_DATA(c), &segment, sizeof segment);
        sendmsg(senders[i], &m, 0) == (ssize_t)k * RUN_LEN ? (sent += k) : (*failed)++;
      }
    }
    g_usleep(8000);
  }
  double us = (cpu_s() - t0) * 1e6 / (double)(sent ? sent : 1);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  receivers_gro(0);
  return us;
}

int main(void) {
  for (int i = 0; i < N; i++) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    senders[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    receivers[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (senders[i] < 0 || receivers[i] < 0 || bind(senders[i], (struct sockaddr *)&a, sizeof a) ||
        bind(receivers[i], (struct sockaddr *)&a, sizeof a)) {
      perror("bench_sendpath: a loopback socket");
      return 1;
    }
    socklen_t len = sizeof to[i];
    getsockname(receivers[i], (struct sockaddr *)&to[i], &len);
  }
  printf("%d sockets, %d rounds of one %d-byte datagram each, 2 ms apart; CPU a datagram (best of 3)\n\n", N, ROUNDS,
         LEN);
  printf("| send path | receiver woken | CPU a datagram | of sendto's |\n| --- | --- | --- | --- |\n");
  for (int reader = 1; reader >= 0; reader--) {
    double base = 0;
    for (int uring = 0; uring < 2; uring++) {
      double best = 1e9;
      long failed = 0;
      for (int k = 0; k < 3; k++) {
        double us = run(uring, reader, &failed);
        if (failed < 0)
          break;
        best = us < best ? us : best;
      }
      if (failed < 0) {
        printf("| io_uring | %s | (io_uring unavailable here) | |\n", reader ? "yes" : "no");
        continue;
      }
      if (!uring)
        base = best;
      printf("| %s | %s | %.2f µs | %.2f |%s\n", uring ? "io_uring, a round a call" : "sendto, a call a datagram",
             reader ? "yes" : "no", best, best / base, failed ? " (some not sent)" : "");
    }
  }
  static const char *way_name[] = {"sendto, a call a datagram", "sendmmsg, a run a call", "UDP GSO, a run a call",
                                   "UDP GSO, to a receiver with UDP_GRO"};
  printf("\n%d sockets, %d rounds of a run of datagrams of %d bytes to each peer, 8 ms apart, the receiver woken; CPU a "
         "datagram (best of 3)\n\n| run | send path | CPU a datagram | of sendto's |\n| --- | --- | --- | --- |\n",
         N, ROUNDS / 4, RUN_LEN);
  for (int k = 4; k <= RUN_MAX; k += 4) {
    double base = 0;
    for (run_way way = EACH; way <= GSO_GRO; way++) {
      double best = 1e9;
      long failed = 0, failed_any = 0;
      for (int r = 0; r < 3; r++) {
        double us = run_frames(way, k, &failed);
        failed_any += failed;
        best = us < best ? us : best;
      }
      if (way == EACH)
        base = best;
      printf("| %d | %s | %.2f µs | %.2f |%s\n", k, way_name[way], best, best / base,
             failed_any ? " (some calls failed)" : "");
    }
  }
  return 0;
}
