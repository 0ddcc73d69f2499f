/* silence_filter.h — a point's silent audio dropped by the kernel, before the bridge reads it.
 *
 * A sender that does not pause while silent sends 50 packets a second at RFC 6464 audio level
 * 127: a client that ignores the answer's usedtx=1 (browsers honour it: 1-3 packets a second
 * once muted), the pauses too short for DTX, and the load generator's muted points. Each such
 * packet cost the bridge a wake-up, a read, an SRTP check and a jitter-buffer push, for
 * nothing it mixes. A classic BPF program on the point's socket (SO_ATTACH_FILTER,
 * socket(7); no privilege needed) drops an RTP packet of the point's audio whose one-byte
 * header extension (RFC 8285 §4.2) says level 127, but one in DC_SILENCE_FILTER_SAMPLE by
 * sequence number. Everything else passes: STUN, DTLS, RTCP (RFC 5761 §4's numbers), other
 * payload types, packets without the extension, and any packet the program cannot read whole
 * as RTP (it never drops what it did not parse: a load past a packet's end would end the
 * program as a drop, so every load is bounded first).
 *
 * Why the samples: the sequence numbers keep coming, so SRTP's rollover counter (RFC 3711
 * §3.3.1) never has to guess across 2^15 missing packets (11 minutes of a muted point), and
 * the receive statistics can tell a gap left by the filter (it touches a silent packet) from
 * loss (dc_rx_stream_silence_skipped, media/repair.h): the reports to the point and the
 * loss-driven policies see the link, not the mute. A talker's pause that is digital silence
 * (a file, a noise gate) ends in at most DC_SILENCE_FILTER_SAMPLE − 1 frames the mixer
 * conceals, as after a lost packet, before the sample says quiet.
 *
 * A run a NIC's GRO coalesced for the socket (it asks for UDP_GRO: transport_receive.c) is
 * judged whole by its first datagram. GRO joins only datagrams of one flow and one size (the
 * last may be shorter), and a silent frame is about the smallest a sender makes, so what goes
 * with it is more silence, or, by a coincidence of sizes, a padding or RTCP packet that is sent
 * again anyway. Loopback makes no such runs (no NIC), so the tests see none.
 *
 * Dropping before authentication changes no state (media/srtp's rule): a forged "silent"
 * packet is only not read. The kernel counts each drop as a UDP receive error (UdpInErrors in
 * /proc/net/snmp, the socket's drops in /proc/net/udp); README says so for operators.
 *
 * Left out: the two-byte header form (RFC 8285 §4.3; browsers send the audio level in the
 * one-byte form), an element further than DC_SILENCE_FILTER_ELEMENTS in (browsers put the
 * level first), and points on TURN or TCP (their packets do not reach a socket of their own).
 */
#ifndef DC_SILENCE_FILTER_H
#define DC_SILENCE_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#define DC_SILENCE_FILTER_SAMPLE 8 /* a power of two */
#define DC_SILENCE_FILTER_ELEMENTS 4
#define DC_SILENCE_FILTER_MAX 128 /* instructions */

/* The program for a point whose audio comes as payload types opus_pt and red_pt (-1: none),
 * with the audio level as one-byte element level_id (1..14). Returns its length (at most
 * DC_SILENCE_FILTER_MAX), 0 for arguments out of range. */
size_t dc_silence_filter_build(struct sock_filter *prog, int opus_pt, int red_pt, int level_id);
/* Attaches it to a UDP socket; false (errno set) where the kernel refuses. */
bool dc_silence_filter_attach(int fd, int opus_pt, int red_pt, int level_id);

#endif
