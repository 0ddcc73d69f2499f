/* rtcp.h — RTCP packets: walk a compound or reduced-size datagram, read each packet into a
 * typed struct, and build packets into a caller's buffer.
 *
 * Implements: SR, RR and report blocks, SDES (CNAME only is extracted; other items are
 * skipped), BYE (RFC 3550 §6.4–6.6); generic NACK (RFC 4585 §6.2.1) and PLI (§6.3.1); FIR
 * (RFC 5104 §4.3.1); REMB (draft-alvestrand-rmcat-remb-03); transport-wide congestion
 * control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1), both ways.
 * Reduced-size RTCP (RFC 5506) is accepted: a datagram need not start with SR/RR.
 *
 * Nothing is allocated and nothing is copied: a dc_rtcp_pkt is a view of one packet inside
 * the caller's datagram, valid while those bytes are. Lists that may be long on the wire
 * (NACK items, FIR entries, REMB SSRCs) are read by index from the view.
 *
 * Left out: APP and XR bodies (walked past, not interpreted), SDES items other than CNAME,
 * RTCP validity rules that only matter for non-muxed sessions (RFC 3550 A.2 first-packet
 * check is not enforced because RFC 5506 allows reduced-size packets).
 */
#ifndef DC_RTCP_H
#define DC_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"

enum {
  DC_RTCP_PT_SR = 200,
  DC_RTCP_PT_RR = 201,
  DC_RTCP_PT_SDES = 202,
  DC_RTCP_PT_BYE = 203,
  DC_RTCP_PT_APP = 204,
  DC_RTCP_PT_RTPFB = 205,
  DC_RTCP_PT_PSFB = 206,
  DC_RTCP_PT_XR = 207,
};
enum { DC_RTCP_FMT_NACK = 1, DC_RTCP_FMT_TWCC = 15 };            /* RTPFB */
enum { DC_RTCP_FMT_PLI = 1, DC_RTCP_FMT_FIR = 4, DC_RTCP_FMT_AFB = 15 }; /* PSFB */

typedef enum {
  DC_RTCP_UNKNOWN = 0,
  DC_RTCP_SR,
  DC_RTCP_RR,
  DC_RTCP_SDES,
  DC_RTCP_BYE,
  DC_RTCP_APP,
  DC_RTCP_XR,
  DC_RTCP_NACK,
  DC_RTCP_TWCC,
  DC_RTCP_PLI,
  DC_RTCP_FIR,
  DC_RTCP_REMB,
  DC_RTCP_OTHER_FB, /* a feedback format we do not interpret */
} dc_rtcp_kind;

/* One packet inside a datagram. body excludes the 4-byte common header and any padding. */
typedef struct {
  uint8_t pt;
  uint8_t count; /* RC, SC or FMT, by type */
  const uint8_t *body;
  size_t body_len;
} dc_rtcp_pkt;

/* Checks a whole datagram: every packet version 2, lengths that tile the datagram exactly,
 * padding only on the last packet and within it. Call before iterating. */
dc_status dc_rtcp_validate(const uint8_t *data, size_t len);

typedef struct {
  const uint8_t *pos, *end;
} dc_rtcp_iter;

void dc_rtcp_iter_init(dc_rtcp_iter *it, const uint8_t *data, size_t len);
/* DC_OK with the next packet, DC_ERR_NOT_FOUND at the end, another error if the rest of
 * the datagram is malformed (iteration then stops). */
dc_status dc_rtcp_next(dc_rtcp_iter *it, dc_rtcp_pkt *pkt);

dc_rtcp_kind dc_rtcp_kind_of(const dc_rtcp_pkt *pkt);
const char *dc_rtcp_kind_str(dc_rtcp_kind kind);

/* ---- Sender and receiver reports ---- */

typedef struct {
  uint32_t ssrc;
  uint8_t fraction_lost;   /* in 1/256 */
  int32_t cumulative_lost; /* 24-bit signed on the wire */
  uint32_t ext_highest_seq;
  uint32_t jitter;         /* in timestamp units */
  uint32_t lsr, dlsr;      /* middle 32 bits of NTP; delay in 1/65536 s */
} dc_rtcp_report_block;

#define DC_RTCP_MAX_BLOCKS 31

typedef struct {
  uint32_t ssrc;
  bool is_sr;
  uint64_t ntp;       /* SR only */
  uint32_t rtp_ts;    /* SR only */
  uint32_t packet_count, octet_count; /* SR only */
  uint8_t n_blocks;
  dc_rtcp_report_block blocks[DC_RTCP_MAX_BLOCKS];
} dc_rtcp_report;

/* Reads an SR or an RR. */
dc_status dc_rtcp_parse_report(const dc_rtcp_pkt *pkt, dc_rtcp_report *out);

/* RFC 3550 §6.4.1: the round trip a report block tells the sender of the SR it answers (lsr
 * not 0), in ms, from the middle 32 bits of the NTP time it arrived (now_mid32): now less
 * LSR less DLSR, modulo 2^32 (a 16.16 fixed point of seconds). -1 when the block answers no
 * SR, or the result is over max_ms (a clock step, or a report from before one). */
int dc_rtcp_rtt_ms(uint32_t now_mid32, const dc_rtcp_report_block *blk, int max_ms);

/* ---- SDES and BYE ---- */

typedef struct {
  uint8_t n;
  struct {
    uint32_t ssrc;
    const uint8_t *cname; /* not NUL-terminated; NULL if the chunk has no CNAME */
    uint8_t cname_len;
  } chunks[DC_RTCP_MAX_BLOCKS];
} dc_rtcp_sdes;

dc_status dc_rtcp_parse_sdes(const dc_rtcp_pkt *pkt, dc_rtcp_sdes *out);

typedef struct {
  uint8_t n;
  uint32_t ssrcs[DC_RTCP_MAX_BLOCKS];
  const uint8_t *reason; /* may be NULL */
  uint8_t reason_len;
} dc_rtcp_bye;

dc_status dc_rtcp_parse_bye(const dc_rtcp_pkt *pkt, dc_rtcp_bye *out);

/* ---- Feedback (RFC 4585 §6.1 common format) ---- */

typedef struct {
  uint8_t fmt;
  uint32_t sender_ssrc, media_ssrc;
  const uint8_t *fci;
  size_t fci_len;
} dc_rtcp_fb;

/* For any RTPFB or PSFB packet. */
dc_status dc_rtcp_parse_fb(const dc_rtcp_pkt *pkt, dc_rtcp_fb *out);

/* NACK: fci holds (PID, BLP) pairs; each stands for up to 17 lost sequence numbers. */
static inline size_t dc_rtcp_nack_items(const dc_rtcp_fb *fb) { return fb->fci_len / 4; }
/* Expands every item into lost sequence numbers; returns how many were written (at most
 * cap; the rest are dropped, which only means fewer retransmissions). */
size_t dc_rtcp_nack_expand(const dc_rtcp_fb *fb, uint16_t *seqs, size_t cap);

/* FIR: fci holds (SSRC, seq nr, 3 reserved bytes) entries. */
static inline size_t dc_rtcp_fir_entries(const dc_rtcp_fb *fb) { return fb->fci_len / 8; }
void dc_rtcp_fir_entry(const dc_rtcp_fb *fb, size_t i, uint32_t *ssrc, uint8_t *seq_nr);

typedef struct {
  uint64_t bitrate_bps;
  uint8_t n_ssrcs;
  const uint8_t *ssrcs; /* n_ssrcs big-endian 32-bit values */
} dc_rtcp_remb;

/* DC_ERR_NOT_FOUND if the AFB packet is not a REMB. */
dc_status dc_rtcp_parse_remb(const dc_rtcp_fb *fb, dc_rtcp_remb *out);
static inline uint32_t dc_rtcp_remb_ssrc(const dc_rtcp_remb *r, size_t i) {
  return dc_rd32(r->ssrcs + 4 * i);
}
/* Whether the estimate is of ssrc's stream too: it is listed, or no SSRC is (taken as all).
 * libwebrtc estimates only the streams that carry abs-send-time and lists those. */
bool dc_rtcp_remb_covers(const dc_rtcp_remb *r, uint32_t ssrc);

/* ---- Transport-wide congestion control feedback ---- */

typedef struct {
  uint16_t base_seq;
  uint16_t status_count;
  int32_t reference_time; /* in 64 ms units, 24-bit signed on the wire */
  uint8_t fb_count;
} dc_rtcp_twcc;

typedef struct {
  uint16_t seq;
  bool received;
  int64_t arrival_us; /* receive time: reference_time * 64 ms + the running deltas */
} dc_twcc_packet;

/* Reads the header and one entry per reported packet into pkts (status_count entries).
 * DC_ERR_NO_SPACE if cap < status_count; 65536 always suffices. */
dc_status dc_rtcp_parse_twcc(const dc_rtcp_fb *fb, dc_rtcp_twcc *hdr, dc_twcc_packet *pkts,
                             size_t cap);

/* ---- Building ---- */

typedef struct {
  uint8_t *buf;
  size_t cap, len;
  bool overflow; /* a write did not fit; the writer ignores writes from then on */
} dc_rtcp_writer;

void dc_rtcp_writer_init(dc_rtcp_writer *w, uint8_t *buf, size_t cap);

void dc_rtcp_write_sr(dc_rtcp_writer *w, const dc_rtcp_report *sr);
void dc_rtcp_write_rr(dc_rtcp_writer *w, const dc_rtcp_report *rr);
void dc_rtcp_write_sdes_cname(dc_rtcp_writer *w, uint32_t ssrc, const char *cname);
void dc_rtcp_write_bye(dc_rtcp_writer *w, const uint32_t *ssrcs, size_t n, const char *reason);
/* seqs may be in any order; duplicates are fine. Items are packed greedily. */
void dc_rtcp_write_nack(dc_rtcp_writer *w, uint32_t sender, uint32_t media, const uint16_t *seqs,
                        size_t n);
void dc_rtcp_write_pli(dc_rtcp_writer *w, uint32_t sender, uint32_t media);
void dc_rtcp_write_fir(dc_rtcp_writer *w, uint32_t sender, uint32_t media, uint8_t seq_nr);
void dc_rtcp_write_remb(dc_rtcp_writer *w, uint32_t sender, uint64_t bitrate_bps,
                        const uint32_t *ssrcs, size_t n);
/* pkts[i].seq must be base_seq + i; arrival times of received packets must not step more
 * than ±8.19 s from one received packet to the next (the wire limit): else DC_ERR_MALFORMED
 * and nothing is written. */
dc_status dc_rtcp_write_twcc(dc_rtcp_writer *w, uint32_t sender, uint32_t media,
                             const dc_rtcp_twcc *hdr, const dc_twcc_packet *pkts);

#endif
