/* outbox.h — a worker's media datagrams held to the end of its pass and sent a peer's at a
 * time, several in one system call.
 *
 * Why: over loopback, and on any host without a NIC that segments for it, a sendto costs the
 * kernel's whole UDP send path for each packet (~6 µs of a core here, more than everything else
 * a forwarded packet costs the bridge: `sendto` was 53 % of its samples with 300 points and
 * three cameras). A video frame reaches a receiver as a run of packets of one size (the
 * sender's packetizer fills each but the last), and a worker's pass (worker.h) handles a
 * batch of them, so the bridge holds what it sends during a pass and, at its end, sends each
 * peer's run as one UDP GSO datagram (UDP_SEGMENT, Linux 4.18: the kernel builds one buffer
 * and cuts it into the packets at the end of its path; the peer receives ordinary datagrams),
 * a lone one with sendto. tests/bench/bench_sendpath measures the three ways (runs of 4 and
 * 8 by sendmmsg: 0.92 and 0.89 of sendto's CPU; by GSO 0.51 and 0.35); README has the load's.
 *
 * A pass sends to many peers, each on its own socket (a mix tick: one packet to every
 * receiver), which neither GSO nor sendmmsg can gather: where the kernel has io_uring
 * (uring.h), a flush to two or more peers hands every peer's runs and packets to it as one
 * batch, one system call for the pass (a run is still one GSO send in it). bench_sendpath:
 * 500 peers a datagram each cost 0.51 of their sendto's CPU that way; the load with 1000
 * audio participants, 0.87 of the bridge's CPU. Where the kernel refuses a ring (seccomp,
 * kernel.io_uring_disabled, before Linux 6.0) the log says so once and each peer's packets
 * go by their own call, as above.
 *
 * The order of a peer's packets is kept; packets of different peers may leave in another
 * order than they were handed in (each peer's in a block). What is held waits at most for its
 * pass to end: a pass is a batch of jobs that had queued while the worker was busy, so the
 * wait grows with load and is none on an idle bridge. Outside a pass (timers, the main
 * thread) a packet goes at once. A socket whose kernel refuses GSO (EIO: no checksum
 * offload) makes every later run go by sendmmsg. /metrics shows the wait as
 * diemcau_outbox_hold_seconds: for each pass that held anything, how long its first packet
 * waited (the longest any did).
 *
 * Threads: the outbox is the calling thread's own; a sender is used on its worker only. */
#ifndef DC_OUTBOX_H
#define DC_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One peer's way out: its socket and where the peer is (read when its packets go, so a path
 * that moved meanwhile takes them). Embedded in its owner (the transport); initialise with
 * dc_outbox_sender_init. */
typedef struct {
  int fd;
  const struct sockaddr_storage *peer;
  const socklen_t *peer_len;
  int32_t head, tail; /* its held packets in this thread's outbox, in order; -1: none */
  uint16_t open_run;  /* the length of the run its held packets end in, while one more of it would join */
} dc_outbox_sender;

void dc_outbox_sender_init(dc_outbox_sender *s, int fd, const struct sockaddr_storage *peer,
                           const socklen_t *peer_len);
/* Sends buf (len ≤ DC_OUTBOX_PACKET_MAX) to s's peer now, or holds a copy until the pass
 * ends. False when it could not go (the socket's buffer full, an error): lost, as on a link. */
#define DC_OUTBOX_PACKET_MAX 2048
bool dc_outbox_send(dc_outbox_sender *s, const uint8_t *buf, size_t len);
/* The length a packet to s must have to join the run its held packets end in, so that it
 * goes out in the same call; 0 when none is open (nothing held, a shorter packet ended it, or
 * GSO is off: a peer's packets then go in one sendmmsg whatever their lengths).
 * A sender whose next packet falls short by at most DC_OUTBOX_PAD_MAX pads it there (RTP
 * padding, before SRTP): a frame's packets are of one size but for its first, which carries
 * the codec's payload header, and its last; a few bytes of padding put the frame in one call
 * instead of two (and the packets of browsers' packetizers differ by a byte). */
#define DC_OUTBOX_PAD_MAX 32
size_t dc_outbox_open_run(const dc_outbox_sender *s);
/* Sends everything this thread holds now: before a sender's socket closes or its owner goes. */
void dc_outbox_flush(void);

/* What went this way (all threads): the system calls, the sends in them (a sendto, a GSO
 * datagram, a sendmmsg; through the ring each run or packet is one send, and a batch of them
 * one call), the datagrams, the GSO datagrams and what they carried, and of the sends those
 * the ring made. */
typedef struct {
  uint64_t calls, sends, packets, gso_calls, gso_packets, ring_sends;
} dc_outbox_stats;
dc_outbox_stats dc_outbox_get_stats(void);
/* Whether runs go by GSO (the default) or by sendmmsg, for every thread: for the tests and
 * the bench, which compare the two. */
void dc_outbox_use_gso(bool use);
/* Whether a pass to two or more peers goes through the thread's io_uring (the default, where
 * the kernel has one) or a system call a peer, for every thread: for the tests, the bench and
 * the daemon's --no-io-uring. */
void dc_outbox_use_ring(bool use);

#endif
