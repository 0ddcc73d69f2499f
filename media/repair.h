/* repair.h — loss repair for forwarded video, sans-IO: what the bridge needs so that a lossy
 * leg is repaired on that leg alone (DESIGN.md, the video path).
 *
 * - dc_packet_cache: a source's recent packets (about a second), to answer receivers' NACKs
 *   (RFC 4585 §6.2.1) without asking the source again. Bytes live in one ring that grows
 *   (64 KiB up to 1 MiB) only while it holds less than the wanted age, so a 150 kbit/s
 *   highland camera costs 64 KiB and a 2.5 Mbit/s hall camera about 512 KiB, plus a 32 KiB
 *   index; a source that sends no video costs nothing.
 * - dc_rx_stream: what arrives on one incoming SSRC: RFC 3550 §6.4.1 / A.3 / A.8 reception
 *   statistics for receiver reports, and the sequence numbers missing now, for NACKs to the
 *   sender with a retry limit (RFC 4585 §3.2 leaves timing to the implementation; ours: at
 *   once on a gap, again every retry interval, at most DC_NACK_TRIES times, forgotten after
 *   a second), and whether its loss comes in runs (a radio link's fades) or one packet at a
 *   time (dc_rx_stream_loses_in_runs); dc_uplink_loss, what those streams' reports lose over
 *   enough packets to show an operator.
 * - RTX (RFC 4588 §4): wrapping a packet for retransmission in its own SSRC and unwrapping
 *   one from a sender.
 *
 * - dc_repair_budget: how much a receiver's retransmissions may take of its link (a token
 *   bucket at a share of its estimate), so that repairs on an overfull link do not make it
 *   fuller: NACKs for what our own repairs pushed out of its queue asked for more repairs, and
 *   a 128 kbit/s point got 600 kbit/s of them with 83 % loss.
 *
 * - dc_keyframe_gate: when a source's layer is asked for a key frame (PLI, RFC 4585 §6.3.1;
 *   FIR, RFC 5104 §4.3.1). Requests are spaced (each key frame costs a thin receiver half a
 *   second of its link); one that comes inside the spacing is held and sent when the spacing
 *   ends, unless a key frame of the layer arrives first. Dropping it instead left the receiver
 *   frozen until it asked again (Chrome: seconds later; a 3.8 s freeze at a highland point
 *   held one request).
 *
 * Left out: FlexFEC (RFC 8627); a sender's ULPFEC is media/fec's. The retry interval is the caller's: the bridge
 * spaces a sender's retries by the round trip its reports give (a sender answers a NACK for
 * a packet it resent less than a round trip ago with nothing, as WebRTC's does).
 */
#ifndef DC_REPAIR_H
#define DC_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"
#include "media/rtcp.h"

/* ---- the packet cache ---- */

#define DC_CACHE_STREAMS 4 /* SSRCs per source: simulcast layers */
#define DC_CACHE_INDEX 512 /* packets per SSRC the index can name: ~2 s at 2.5 Mbit/s */

typedef struct dc_packet_cache dc_packet_cache;

/* Keeps packets for max_age_us (the ring grows up to max_bytes to do so). */
dc_packet_cache *dc_packet_cache_new(uint64_t max_age_us, size_t max_bytes);
void dc_packet_cache_free(dc_packet_cache *c);
/* Stores a copy of one RTP packet. A fifth SSRC replaces the one least recently stored. */
void dc_packet_cache_put(dc_packet_cache *c, uint32_t ssrc, uint16_t seq, const uint8_t *buf,
                         size_t len, uint64_t now_us);
/* Copies the packet into out; returns its length, or 0 when it is not held (never stored,
 * overwritten, older than max_age, or longer than cap). */
size_t dc_packet_cache_get(const dc_packet_cache *c, uint32_t ssrc, uint16_t seq, uint64_t now_us,
                           uint8_t *out, size_t cap);
/* The same, for a packet no older than max_age_us (at most the cache's own). */
size_t dc_packet_cache_get_within(const dc_packet_cache *c, uint32_t ssrc, uint16_t seq, uint64_t now_us,
                                  uint64_t max_age_us, uint8_t *out, size_t cap);
/* How long a packet is worth sending again, or asking for again, on a leg with this round
 * trip (ms; 0 or less: not known yet): long enough for the asker's second and third asks,
 * which come a round trip apart (a NACK or its resend lost), so 3 round trips and 0.5 s for
 * the asker's own wait before its first ask; at least 1 s, at most DC_REPAIR_AGE_MAX_US. */
#define DC_REPAIR_AGE_MIN_US 1000000
#define DC_REPAIR_AGE_MAX_US 3000000
uint64_t dc_repair_age_us(int rtt_ms);
/* Bytes this cache holds allocated now. */
size_t dc_packet_cache_memory(const dc_packet_cache *c);

/* ---- one incoming stream ---- */

#define DC_NACK_MAX 128 /* missing packets tracked at once; a longer gap is a restart */
#define DC_NACK_TRIES 3

typedef struct {
  uint16_t seq;
  uint8_t tries;
  uint64_t first_us, last_us;
} dc_missing;

typedef struct {
  uint32_t ssrc;
  uint32_t clock_rate;
  bool started;
  uint16_t max_seq;
  uint64_t max_seq_us; /* when max_seq arrived */
  uint16_t bad_seq;   /* after a jump, the number that would continue it (RFC 3550 A.1) */
  uint8_t jump_run;   /* packets in a row that continued it, 0: no jump pending */
  uint32_t cycles;    /* shifted count of sequence number wraps */
  uint32_t base_seq;
  uint64_t received, received_prior, expected_prior;
  uint64_t bytes;
  uint32_t transit;   /* RFC 3550 A.8 */
  double jitter;
  uint64_t last_sr_ntp; /* middle 32 bits of the sender's last SR, and when it came */
  uint64_t last_sr_us;
  int n_missing;
  dc_missing missing[DC_NACK_MAX];
  uint64_t nacks_sent, recovered;
  uint64_t rebuilt; /* missing packets rebuilt from FEC (not counted as received) */
  uint64_t not_needed; /* missing packets found to carry nothing needed (dc_rx_stream_not_needed) */
  /* missing packets given up (asked for DC_NACK_TRIES times, too old, or too many to ask
   * for), and when the last was: a decoder downstream waits for a key frame after one */
  uint64_t given_up, given_up_us;
  /* gaps that opened in order (at most DC_LOSS_RUN_MAX packets: longer is an outage) and the
   * packets in them, less those that came late; both halved past DC_LOSS_RUNS_KEPT gaps so
   * that the recent ones count; none before loss_runs_from_us */
  uint32_t loss_gaps, loss_gap_packets;
  uint64_t loss_runs_from_us;
  bool last_silent;     /* the highest-numbered packet so far said silence (audio level 127) */
  uint64_t skipped;     /* numbers left out beside silence (dc_rx_stream_silence_skipped) */
} dc_rx_stream;

void dc_rx_stream_init(dc_rx_stream *s, uint32_t ssrc, uint32_t clock_rate);
/* One packet arrived (a retransmission too, once unwrapped). Returns false for a duplicate
 * or a packet too old to matter, and for a jump in numbers until DC_RX_JUMP_CONFIRM packets
 * in a row, none of the old numbering between, continue it (RFC 3550 A.1 takes one): a
 * retransmission that comes late, more than 100 packets behind, is no restart, nor is a
 * run of them (a browser's RTX padding resends several old packets in a row). */
#define DC_RX_JUMP_CONFIRM 8
bool dc_rx_stream_update(dc_rx_stream *s, uint16_t seq, uint32_t rtp_ts, size_t len,
                         uint64_t now_us);
/* Whether the stream's recent loss comes in runs: at least DC_LOSS_RUNS_MIN gaps, averaging
 * 1.6 packets or more. Random loss of 10 % averages 1.1 packets a gap (20 %: 1.25); a radio
 * link's fades take several packets at once (the link lab's bursty scenario: about 3). Gaps
 * in the stream's first DC_LOSS_RUNS_SETTLE_US are not counted: a thin link's queue, full of
 * the join's own traffic, drops runs of packets then (the link lab at 32 kbit/s with random
 * loss: 10 gaps of 34 packets in the first 65 received). */
#define DC_LOSS_RUN_MAX 16
#define DC_LOSS_RUNS_KEPT 32
#define DC_LOSS_RUNS_MIN 6
#define DC_LOSS_RUNS_SETTLE_US 10000000
bool dc_rx_stream_loses_in_runs(const dc_rx_stream *s);
/* A missing packet rebuilt here (from the sender's FEC) rather than received: it is no longer
 * asked for, but not counted as received either, so that our reports show the sender the
 * loss its FEC must cover (WebRTC's receiver counts it so too). False when it was not
 * missing (already here, never expected, or given up). */
bool dc_rx_stream_rebuilt(dc_rx_stream *s, uint16_t seq);
/* Missing packets first .. first+n-1 that the caller found carried nothing a receiver needs
 * (between two whole frames: a sender's lost FEC or padding): no longer asked for, and never
 * given up. Returns how many were missing; their numbers go to out (room for n), if not NULL,
 * for the caller to fill its receivers' numbering with. */
unsigned dc_rx_stream_not_needed(dc_rx_stream *s, uint16_t first, uint16_t n, uint16_t *out);
/* Called for each audio packet before dc_rx_stream_update, with whether its audio level
 * (RFC 6464) says silence (127). A filter upstream of us drops a point's silent packets but
 * one in a few (bridge/silence_filter.h), so numbers missing in order before a packet, where
 * it or the packet before the gap said silence, were left out there, not lost: they are taken
 * as received (no loss in our reports, no loss run, nothing missing) and counted in skipped.
 * A gap between two packets with sound is loss as before. */
void dc_rx_stream_silence_skipped(dc_rx_stream *s, uint16_t seq, bool silent);
/* The sender's SR, for the report's LSR/DLSR (RFC 3550 §6.4.1). */
void dc_rx_stream_on_sr(dc_rx_stream *s, uint64_t ntp, uint64_t now_us);
/* Sequence numbers to NACK now: each missing one not asked for within retry_us and asked
 * fewer than DC_NACK_TRIES times; ones missing longer than max_age_us are given up. A missing
 * packet's age counts from when it was likely sent: the numbers of a gap are spread evenly
 * over the time between the packets either side of it, so after a link's 10 s outage only
 * the last max_age_us of the gap is asked for (a sender keeps about a second: WebRTC's
 * history holds max(1 s, 3 round trips)), not ~100 numbers three times each. */
size_t dc_rx_stream_nacks(dc_rx_stream *s, uint64_t now_us, uint64_t retry_us, uint64_t max_age_us,
                          uint16_t *out, size_t cap);
/* Gives up every packet missing now (counted in given_up): a key frame asked for makes
 * them worthless, as after an outage of the sender's link. */
void dc_rx_stream_give_up_missing(dc_rx_stream *s, uint64_t now_us);
/* A report block for this stream since the last one (fraction lost is per interval). */
void dc_rx_stream_report(dc_rx_stream *s, uint64_t now_us, dc_rtcp_report_block *out);

/* What a point's uplink loses, as the operators' live view shows it: the share lost of its
 * packets over about the last DC_UPLINK_LOSS_INTERVALS report intervals (each interval's
 * counts weigh 1 - 1/DC_UPLINK_LOSS_INTERVALS less at each new one), shown once at least
 * DC_UPLINK_LOSS_PACKETS are counted, not the last interval's figure alone. An audio-only
 * point sends ~17 packets a second in the highland tier's 60 ms frames, and on a link losing
 * 10 % in runs of three one interval's figure read 0 in half the seconds (the unit test's
 * draws; up to 37.5 % in others in the link lab); over 64 packets in turn it was still outside
 * 3-20 % a third of the time.
 * An interval that measured nothing of it (only silence the kernel dropped,
 * bridge/silence_filter.h) changes nothing: the figure stays as it was through a speaker's
 * pauses (reset at each, it read "unknown" for the four or five intervals after every pause
 * longer than one, most of the time for a clerk speaking in sentences), and becomes unknown
 * once DC_UPLINK_LOSS_INTERVALS in a row measured nothing (a point that listens). */
#define DC_UPLINK_LOSS_INTERVALS 8
#define DC_UPLINK_LOSS_PACKETS 64
typedef struct {
  double expected, lost; /* weighed sums over the intervals since it was last unknown */
  int shown;             /* 1/256, -1 unknown */
  int unmeasured;        /* intervals in a row that measured nothing */
} dc_uplink_loss;
void dc_uplink_loss_init(dc_uplink_loss *u);
/* One report interval: the packets its measured streams should have brought, and of those the
 * ones lost (measured false: nothing measured). The figure to show after it. */
int dc_uplink_loss_interval(dc_uplink_loss *u, bool measured, uint64_t expected, uint64_t lost);

/* ---- RTX (RFC 4588 §4) ---- */

/* Turns the RTP packet in buf (len bytes, cap room) into its retransmission: payload type
 * rtx_pt, SSRC rtx_ssrc, sequence number rtx_seq, the original sequence number in front of
 * the payload; padding is dropped. Returns the new length, or 0 when it does not fit or buf
 * is not RTP. */
size_t dc_rtx_wrap(uint8_t *buf, size_t len, size_t cap, uint8_t rtx_pt, uint32_t rtx_ssrc,
                   uint16_t rtx_seq);
/* The reverse, in place: payload type pt, SSRC ssrc, the original sequence number. Returns
 * the new length, or 0 when buf carries no original packet (a padding-only probe). */
size_t dc_rtx_unwrap(uint8_t *buf, size_t len, uint8_t pt, uint32_t ssrc);
/* A padding-only RTX packet of about `size` bytes (RFC 3550 §5.1 padding, at most 255
 * octets; no original sequence number: it stands for no packet), for probing a link: with
 * an abs-send-time element (id ast_id, 0: none, value 0, stamped as it leaves) so that the
 * receiver's estimate counts it. Returns the length written, 0 when cap is too small. */
size_t dc_rtx_padding(uint8_t *out, size_t cap, uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq,
                      uint32_t timestamp, uint8_t ast_id, size_t size);

/* ---- the repair budget ---- */

/* Repairs may take DC_REPAIR_SHARE of the estimate (WebRTC lets them take all of it; we
 * cannot lower the source's rate for one receiver, only its layer), and save up for at most
 * DC_REPAIR_BURST_US of it: the packets of a lost key frame. */
#define DC_REPAIR_SHARE 0.5
#define DC_REPAIR_BURST_US 1000000

typedef struct {
  double bits;      /* what may go now */
  uint64_t last_us; /* when that was worked out, 0: never */
} dc_repair_budget;

/* Whether a repair of len bytes may go at now_us to a receiver estimated at estimate_bps;
 * takes it from the budget when it may. */
bool dc_repair_budget_take(dc_repair_budget *b, uint64_t estimate_bps, size_t len, uint64_t now_us);

/* ---- key-frame requests to a source, one layer ---- */

typedef struct {
  int64_t sent_us;     /* the last request sent, 0: none */
  int64_t held_us;     /* when a held request came, 0: none held */
  int64_t held_due_us; /* when it is to be sent */
  int64_t key_us;      /* the last key frame of the layer that arrived, 0: none */
} dc_keyframe_gate;

typedef enum {
  DC_KEYFRAME_SEND,      /* send a request now (counted as sent) */
  DC_KEYFRAME_HELD_NEW,  /* held until *due_us: arm a timer for it (dc_keyframe_gate_due) */
  DC_KEYFRAME_HELD,      /* one is held already and its timer armed: nothing to do */
} dc_keyframe_verdict;

/* A request at now_us, to come at least interval_us after the last one sent. */
dc_keyframe_verdict dc_keyframe_gate_ask(dc_keyframe_gate *g, int64_t now_us, int64_t interval_us, int64_t *due_us);
/* A timer armed for a held request fired: true when the request goes now (counted as sent),
 * false when there is nothing to send (a key frame came after the request, it was sent
 * already, or this timer is not the held one's). */
bool dc_keyframe_gate_due(dc_keyframe_gate *g, int64_t now_us);
/* A key frame of the layer arrived (its first packet). */
void dc_keyframe_gate_key_seen(dc_keyframe_gate *g, int64_t now_us);

#endif
