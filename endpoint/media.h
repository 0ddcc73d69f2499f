/* media.h — the endpoint's media: one GStreamer pipeline around webrtcbin.
 *
 * Sends the microphone (through webrtcdsp: echo cancellation, noise suppression, gain
 * control) as Opus and the camera as VP8 at the profile's settings; plays the bridge's mix
 * and shows the video slots in a grid, each tile labelled with its point's name. webrtcbin
 * (GStreamer 1.22) brings ICE (libnice), DTLS-SRTP (libsrtp2), RTCP, NACK/RTX for video and
 * the jitter buffers; the offer it makes has the shape the bridge wants (PROTOCOL.md: audio,
 * the camera's video sendrecv, then recvonly thumbnails), bundled.
 *
 * The hall profile sends simulcast by SSRC (RFC 5576 a=ssrc-group:SIM; webrtcbin 1.22 has no
 * RID simulcast): one encoder per layer (profile.h), funnelled into the camera's section, so
 * the bridge can give a highland commune the hall's 320x180 layer. Key-frame requests for a
 * layer are taken from the RTP session and sent to that layer's encoder (media.c).
 *
 * All callbacks run on the thread-default main context of the thread that made the media
 * (webrtcbin's own threads never call out). Left out: sender-side bandwidth estimation
 * (rtpgccbwe is not in Debian 12): bitrates are the profile's; RTX for the simulcast layers
 * (their repair SSRCs are not announced, so the bridge drops those repairs).
 */
#ifndef DC_ENDPOINT_MEDIA_H
#define DC_ENDPOINT_MEDIA_H

#include <glib.h>
#include <stdbool.h>

#include "endpoint/profile.h"

typedef struct dc_endpoint_media dc_endpoint_media;

typedef enum { DC_WAIT_LONE_LOSS, DC_WAIT_LATER_PACKETS, DC_WAIT_EARLIER_PACKETS, DC_WAIT_LOSS_RUNS } dc_wait_reason;

typedef struct {
  void (*offer)(const char *sdp, void *user);
  void (*candidate)(const char *candidate, void *user);
  void (*connected)(bool connected, void *user); /* ICE and DTLS up, or lost/failed */
  void (*failed)(const char *why, void *user);   /* the pipeline cannot go on */
  void (*stats)(const char *json_line, void *user);
  /* no working device of a kind (GStreamer put a fake one in its place): the meeting goes on
   * without it, and the words say what the user can do (NULL: ignored) */
  void (*missing)(const char *words, void *user);
  /* the audio's jitter buffer now waits ms for a late or repaired packet, why: less once the
   * mix's packets are seen lost alone or not at all (as their lateness asks:
   * dc_profile_lone_wait_ms), more when they come later than they did and less again when
   * sooner for a while (in a pause of the sound), the profile's longer
   * wait once they are lost in runs (dc_loss_runs); the bridge's copies reach as far back as
   * the wait allows once it knows; in_a_pause: the change fell in a pause of the sound. Also
   * called when the loss is judged and the wait stays (before_ms == ms: a link whose packets
   * come as late as the longer wait allows). (NULL: ignored) */
  void (*audio_wait)(int ms, int before_ms, dc_wait_reason why, bool in_a_pause, void *user);
  void *user;
} dc_media_events;

typedef struct {
  const dc_profile *profile;
  int slots;         /* video slots to receive, 1..9 (ignored when audio_only) */
  bool audio_only;
  /* NULL: the devices (autoaudiosrc through webrtcdsp, autovideosrc); "test:FREQ" / "test":
   * a tone / a moving test picture; anything else a file (WAV; any video GStreamer plays). */
  const char *audio_source, *video_source;
  /* NULL: the speakers and a window; "fake": discarded (still decoded and counted); else a
   * file: WAV for audio, Matroska (VP8) for video. */
  const char *audio_sink, *video_sink;
  bool stats;        /* emit a stats JSON line every second */
  /* the bridge's STUN/TURN servers as webrtcbin takes them (stun://, turn://, turns://; see
   * signaling/ice_servers.h), NULL-terminated; NULL: none */
  char **ice_uris;
  /* TCP candidates too (RFC 6544), for a point whose UDP is blocked. Off, a lossy link's UDP
   * checks cannot lose to TCP's, which retransmit: media over TCP on a lossy 600 ms link
   * stalls a second at each loss and plays over a second late (measured in the link lab). */
  bool ice_tcp;
} dc_media_config;

/* Builds the pipeline (nothing runs yet). NULL with *error when an element is missing. */
dc_endpoint_media *dc_media_new(const dc_media_config *cfg, const dc_media_events *events, GError **error);
/* Starts it; the offer comes through events->offer. */
bool dc_media_start(dc_endpoint_media *m, GError **error);
void dc_media_set_answer(dc_endpoint_media *m, const char *sdp);
/* The rate our Opus encoder keeps to, as the bridge asks when our uplink queues (0: the
 * profile's). */
void dc_media_set_audio_rate(dc_endpoint_media *m, unsigned bps);
unsigned dc_media_audio_rate(dc_endpoint_media *m); /* what the encoder keeps to now; 0: none */
void dc_media_add_candidate(dc_endpoint_media *m, const char *candidate);
/* Tile labels, one per slot, main first ("" for an empty slot). */
void dc_media_set_labels(dc_endpoint_media *m, const char *const *labels, int n);
/* The status line: shown on the picture (when there is one) and printed when it changes. */
void dc_media_set_status(dc_endpoint_media *m, const char *status);
void dc_media_set_muted(dc_endpoint_media *m, bool muted);
/* Frames decoded so far in a slot, -1 for no such slot. */
long dc_media_frames(dc_endpoint_media *m, int slot);
/* The encoding halves of the send chains for a profile (raw audio or video in, RTP out), as
 * pipeline descriptions (g_free them): the pipeline uses them, and tests run them alone. */
char *dc_media_audio_encoder_desc(const dc_profile *p);
char *dc_media_video_encoder_desc(const dc_profile *p);
/* The playback of the mix, as a pipeline description ending in sink_desc (g_free it): a live
 * silent base into the audiomixer "playmix" that the decoded mix joins, so that the echo
 * canceller's probe (when echo_probe) and a recording run on the wall clock from the start.
 * The mixer waits for its input as long as its inputs' latency says (the mix's jitter
 * buffer's wait for a late or repaired packet, the decoder's hold) and DC_PLAYBACK_MARGIN_MS
 * more for the decoding between them; the sink plays that much after the mix's time. That
 * latency has to be found again when the mix joins (dc_media_latency_changed): found before,
 * it leaves the wait out, and the mixer dropped what the jitter buffer had held as too late
 * (GStreamer's log: "input buffer is entirely before current output offset"). */
#define DC_PLAYBACK_MARGIN_MS 20
char *dc_media_playback_desc(const char *sink_desc, bool echo_probe);

typedef struct _GstElement GstElement;
/* With DTX (the highland profile): until the microphone first carries sound (a peak of -40
 * dBFS), the encoder is given digital silence, which libopus 1.3.1 sends as DTX where it would
 * send a quiet room's noise as full frames (media_audio.c). On the Opus encoder. */
void dc_media_quiet_until_sound(GstElement *encoder);
typedef struct _GstMessage GstMessage;
typedef struct _GstPad GstPad;
/* Gives each of the pipeline's sinks the latency of its own inputs (GStreamer's default gives
 * every sink the largest of them: the loudspeaker would wait for the video's jitter buffer),
 * and stores the playback mix's in *playback_ns (ns, -1: none found; may be NULL). */
void dc_media_latency_per_sink(GstElement *pipeline, gint64 *playback_ns);
/* A bus message: an element's latency changed, or a stream joined the playback (the media
 * posts one then); the pipeline's latency is found again. False for any other message. */
bool dc_media_latency_changed(GstElement *pipeline, GstMessage *msg);
/* Once the first buffer passes pad (a stream joining a sink: its elements then have their
 * caps and can answer), its element posts a latency message for dc_media_latency_changed. */
void dc_media_latency_once_flowing(GstPad *pad);
/* opusdec decoding in-band FEC declares 120 ms of latency where it holds one packet: its
 * answer is made its input's latency and frame_ms. */
void dc_media_declare_decoder_hold(GstElement *decoder, int frame_ms);
/* Our own audio's redundancy (RFC 2198) toward the bridge: webrtcbin wraps it in RED with no
 * copies (its rtpredenc at distance 0), so a lossy uplink lost every word it dropped for
 * everyone in the meeting. From the audio loss the bridge reports (its receiver reports, in
 * per mille), the copies to send now: one earlier frame from 1 % loss, held for
 * DC_MEDIA_RED_HOLD_US after the last such report (as the bridge does toward a receiver), none
 * on a clean link, where it would double the audio's rate for nothing. *last_loss_us keeps
 * when loss was last reported (0: never). */
#define DC_MEDIA_RED_HOLD_US (10 * G_USEC_PER_SEC)
unsigned dc_media_uplink_red_distance(int audio_loss_permille, gint64 now_us, gint64 *last_loss_us);
/* The camera's parity toward the bridge (RFC 5109 ULPFEC inside RED, webrtcbin's
 * rtpulpfecenc), on a profile with video_fec_percent: each parity packet protects one frame's
 * packets and they make up that percent of the camera's packets, so at a highland camera's
 * one-packet frames a fifth of the frames (20 %) carry a copy from which the bridge rebuilds
 * the frame if it is lost, a round trip sooner than a resend. On while the bridge reports 1 %
 * or more of the video lost and for DC_MEDIA_RED_HOLD_US after (as the audio's copies), none
 * on a clean link; returns the percent to spend now. */
unsigned dc_media_uplink_video_fec_percent(const dc_profile *p, int video_loss_permille, gint64 now_us,
                                           gint64 *last_loss_us);
/* The camera encoder's target while fec_percent goes on parity: the profile's rate less that
 * share, so the camera and its parity together keep to what the profile sends. */
int dc_media_video_target_bps(const dc_profile *p, unsigned fec_percent);
/* Ends the recordings cleanly (EOS, at most 2 s), gives back the relays ICE took on TURN
 * servers (RFC 8656 §7: a Refresh with lifetime 0; at most 1 s) and frees everything. */
void dc_media_free(dc_endpoint_media *m);

#endif
