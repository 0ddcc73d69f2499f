/* sdp.h — read the offers that browsers and webrtcbin make, decide what to accept, and
 * write the answer.
 *
 * Parsing covers the SDP of RFC 8866 as JSEP (RFC 8829) uses it: BUNDLE (RFC 8843), rtcp-mux
 * (RFC 5761) and reduced-size RTCP (RFC 5506), ICE credentials, candidates and options
 * (RFC 8839), DTLS fingerprint and setup (RFC 8122, RFC 5763), mid, msid (RFC 8830), rtpmap,
 * fmtp, rtcp-fb (RFC 4585), extmap (RFC 8285), ssrc and ssrc-group FID/SIM (RFC 5576),
 * rid (RFC 8851) and simulcast (RFC 8853). Unknown attributes are skipped; a known one that
 * is malformed makes the whole description invalid, with its line number in the message.
 * Limits (64 KiB, 64 sections, 128 codecs, 32 extensions, 64 SSRCs, 8 rids and 64
 * candidates per section) bound what an untrusted peer can make us hold.
 *
 * Negotiation (dc_sdp_negotiate) applies diemcau's policy: one BUNDLE transport with
 * rtcp-mux and DTLS-SRTP, Opus in the first audio section, VP8 (with RTX when offered) in
 * each video section, the header extensions the bridge reads, simulcast layers by rid or by
 * SSRC. It refuses an offer it cannot serve with a message that says what is missing.
 * dc_sdp_write_answer then writes the answer from that decision plus our transport details.
 *
 * Left out: H.264 and other codecs (sections without VP8 are rejected, not the offer),
 * data channels (rejected), more than one audio section, b= lines, re-offers with changed
 * BUNDLE groups, ICE restarts.
 */
#ifndef DC_SDP_H
#define DC_SDP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "media/error.h"
#include "media/rtp.h"

#define DC_SDP_MAX_BYTES 65536
#define DC_SDP_MAX_LAYERS 8

typedef enum { DC_SDP_AUDIO, DC_SDP_VIDEO, DC_SDP_APPLICATION, DC_SDP_OTHER } dc_sdp_kind;

/* Directions are from the writer's point of view, as in the SDP text. */
typedef enum { DC_SDP_SENDRECV, DC_SDP_SENDONLY, DC_SDP_RECVONLY, DC_SDP_INACTIVE } dc_sdp_dir;

typedef enum {
  DC_SDP_SETUP_NONE,
  DC_SDP_SETUP_ACTPASS,
  DC_SDP_SETUP_ACTIVE,
  DC_SDP_SETUP_PASSIVE,
  DC_SDP_SETUP_HOLDCONN,
} dc_sdp_setup;

typedef struct {
  uint8_t pt;
  const char *name; /* as written: "opus", "VP8", "rtx" */
  uint32_t clock_rate;
  uint8_t channels; /* 0 when not given */
  const char *fmtp; /* NULL when none */
  GPtrArray *rtcp_fb; /* const char*: "nack", "nack pli", "ccm fir", ... incl. those for '*' */
} dc_sdp_codec;

typedef struct {
  uint8_t id;
  dc_sdp_dir dir; /* DC_SDP_SENDRECV when no direction is given */
  const char *uri;
} dc_sdp_extmap;

typedef struct {
  uint32_t ssrc;
  const char *cname, *msid; /* NULL when not given */
} dc_sdp_ssrc;

typedef struct {
  const char *semantics; /* "FID", "SIM", ... */
  uint8_t n;
  uint32_t ssrcs[DC_SDP_MAX_LAYERS];
} dc_sdp_ssrc_group;

typedef struct {
  const char *id;
  bool send; /* "send" or "recv" */
  const char *params; /* NULL when none */
} dc_sdp_rid;

typedef struct {
  const char *rid;
  bool paused; /* written "~rid" */
} dc_sdp_simulcast_stream;

typedef struct {
  const char *foundation;
  unsigned component;
  const char *transport; /* "udp", "tcp" */
  uint32_t priority;
  const char *address;
  uint16_t port;
  const char *type; /* "host", "srflx", "prflx", "relay" */
  const char *value; /* the whole attribute value, for libnice */
} dc_sdp_candidate;

typedef struct {
  dc_sdp_kind kind;
  const char *media; /* "audio", "video", "application", ... */
  uint16_t port;
  const char *proto;
  GPtrArray *fmts; /* const char* */
  const char *mid;  /* NULL when absent */
  dc_sdp_dir dir;
  bool rtcp_mux, rtcp_mux_only, rtcp_rsize, bundle_only, end_of_candidates;
  const char *ice_ufrag, *ice_pwd, *fingerprint, *msid; /* NULL: see the session level */
  dc_sdp_setup setup;
  GArray *codecs;       /* dc_sdp_codec */
  GArray *extmaps;      /* dc_sdp_extmap */
  GArray *ssrcs;        /* dc_sdp_ssrc */
  GArray *ssrc_groups;  /* dc_sdp_ssrc_group */
  GArray *rids;         /* dc_sdp_rid */
  GArray *candidates;   /* dc_sdp_candidate */
  GArray *simulcast_send, *simulcast_recv; /* dc_sdp_simulcast_stream, first alternatives */
} dc_sdp_media;

typedef struct dc_sdp {
  const char *session_id, *session_version;
  const char *ice_ufrag, *ice_pwd, *fingerprint; /* session level; NULL when absent */
  dc_sdp_setup setup;
  bool ice_lite, ice_trickle, extmap_allow_mixed;
  GPtrArray *bundle; /* const char*: mids of the first a=group:BUNDLE, NULL when none */
  GPtrArray *media;  /* dc_sdp_media* */
  GStringChunk *strings;
} dc_sdp;

/* Parses len bytes of text (need not be NUL-terminated). Returns NULL with an error that
 * names the line for anything malformed or over the limits. */
dc_sdp *dc_sdp_parse(const char *text, size_t len, GError **error);
void dc_sdp_free(dc_sdp *sdp);

/* Media-level value, else the session-level one (RFC 8839 §5.4, RFC 8122 §5). */
const char *dc_sdp_media_ice_ufrag(const dc_sdp *sdp, const dc_sdp_media *m);
const char *dc_sdp_media_ice_pwd(const dc_sdp *sdp, const dc_sdp_media *m);
const char *dc_sdp_media_fingerprint(const dc_sdp *sdp, const dc_sdp_media *m);
dc_sdp_setup dc_sdp_media_setup(const dc_sdp *sdp, const dc_sdp_media *m);

const dc_sdp_codec *dc_sdp_media_codec(const dc_sdp_media *m, uint8_t pt);
bool dc_sdp_codec_has_fb(const dc_sdp_codec *c, const char *fb);
/* 0 when the extension is not offered (or not usable in the given direction). */
uint8_t dc_sdp_media_extmap_id(const dc_sdp_media *m, const char *uri);

/* ---- negotiation ---- */

enum { DC_FB_NACK = 1, DC_FB_PLI = 2, DC_FB_FIR = 4, DC_FB_REMB = 8, DC_FB_TWCC = 16 };

typedef struct {
  const dc_sdp_media *offer; /* the offered section this decides */
  bool accepted;
  const char *reject_reason; /* when not accepted: why, in words */
  dc_sdp_kind kind;
  dc_sdp_dir offered_dir;    /* the offerer's view: SENDRECV, SENDONLY, ... */
  int pt, rtx_pt;            /* chosen payload types; -1 when none */
  int red_pt;                /* audio: RED (RFC 2198) of Opus the offerer takes; -1 when none */
  /* video: what protecting the offerer's packets takes, each -1 when not offered: RED, ULPFEC
   * (RFC 5109) inside it, and the RTX whose apt is the RED (a retransmission of a packet sent
   * in RED goes under it) */
  int video_red_pt, ulpfec_pt, red_rtx_pt;
  uint32_t clock_rate;
  unsigned feedback;         /* DC_FB_* both sides will use */
  dc_rtp_ext_ids ext;        /* negotiated extension ids, 0 when not used */
  /* What the offerer will send: SSRCs it declared (primary, and RTX by FID) and its
   * simulcast layers, lowest first when known from a=ssrc-group:SIM. */
  uint8_t n_ssrcs;
  uint32_t ssrcs[DC_SDP_MAX_LAYERS], rtx_ssrcs[DC_SDP_MAX_LAYERS];
  uint8_t n_rids;
  const dc_sdp_simulcast_stream *rids[DC_SDP_MAX_LAYERS];
} dc_sdp_section;

typedef struct {
  const dc_sdp *offer;
  GArray *sections;          /* dc_sdp_section, one per offered section, in order */
  int audio;                 /* index of the accepted audio section */
  const char *ice_ufrag, *ice_pwd, *fingerprint; /* the offerer's transport (BUNDLE tag) */
  bool dtls_server;          /* we answer passive: the offerer is the DTLS client */
} dc_sdp_negotiation;

/* The offer must outlive the negotiation. NULL with a user-readable error when the offer
 * cannot be served: no BUNDLE, no fingerprint, no ICE credentials, no rtcp-mux, not
 * DTLS-SRTP, or no Opus audio. */
dc_sdp_negotiation *dc_sdp_negotiate(const dc_sdp *offer, GError **error);
void dc_sdp_negotiation_free(dc_sdp_negotiation *neg);

/* ---- the answer ---- */

typedef struct {
  uint32_t ssrc;     /* what we send in this section; 0 = we send nothing */
  uint32_t rtx_ssrc; /* 0 = no RTX from us */
  /* video the offerer sends: answer RED and ULPFEC (and RTX for RED) so that it protects its
   * packets, when dc_sdp_section_takes_fec says the offer allows it */
  bool take_fec;
} dc_sdp_send;

/* Whether the offerer can protect the video it sends in this section with ULPFEC in RED: it
 * sends here and offered RED and ULPFEC, and the RTX for RED when it offered RTX (without it
 * a retransmission of a packet sent in RED has no payload type to go under). */
bool dc_sdp_section_takes_fec(const dc_sdp_section *s);

typedef struct {
  const char *ice_ufrag, *ice_pwd; /* ours */
  const char *fingerprint;         /* ours, "sha-256 AB:..." */
  const char *cname;               /* RTCP CNAME of our streams */
  uint64_t session_id;
  const char *const *candidates;   /* NULL-terminated candidate-attribute values, or NULL */
  bool end_of_candidates;
  const char *audio_fmtp;          /* Opus parameters we ask for; NULL = a default */
  unsigned audio_ptime;            /* a=ptime for the audio section (ms); 0 = none */
  bool audio_red;                  /* answer RED when offered: we may send it */
  bool audio_red_first;            /* and list it first: the offerer should send it too */
  unsigned video_max_kbps;         /* b=AS on each video section the offerer sends in: the most
                                    * it should send there, probes included; 0 = none */
  const dc_sdp_send *send;         /* one per offered section, or NULL: we send nothing */
} dc_sdp_answer_params;

/* Returns the answer text (CRLF line endings), to be g_free()d. */
char *dc_sdp_write_answer(const dc_sdp_negotiation *neg, const dc_sdp_answer_params *params);

const char *dc_sdp_dir_str(dc_sdp_dir dir);

#endif
