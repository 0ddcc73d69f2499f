/* recorder.h — writes a meeting's recording: the full mix as Ogg Opus (RFC 7845) and the
 * main picture as WebM (VP8), from the packets the bridge already has. Nothing is decoded or
 * encoded again: the mixer's Opus frames go into Ogg pages as they are (opusparse writes the
 * RFC 7845 §5 identification and comment headers), and forwarded VP8 RTP is depacketized
 * (RFC 7741) into WebM blocks. One GStreamer pipeline holds both files.
 *
 * Both files share one time line: every buffer is stamped with its time since the recording
 * started, taken on the bridge's monotonic clock (the mix clock's ticks for audio, arrival
 * for video), so a frame at 12.3 s in the WebM was on screen while the Ogg at 12.3 s was
 * heard. The audio is stamped by its sample count from its first frame, so the Ogg has no
 * gaps however late a tick ran, and begins with silence up to that first frame (to 10 ms), so
 * that it starts when the recording did in every player.
 *
 * A write error (a full disk, a file that cannot be written) ends the recording at once and
 * is reported through the done callback; the pushes meanwhile are dropped, so the meeting
 * never waits on a disk. Left out: audio per point, other video than the main picture,
 * splitting long recordings, encryption at rest.
 *
 * Threads: push_audio and push_video from any thread (GStreamer's appsrc is thread-safe),
 * but never after dc_recorder_stop; the done callback runs on the GMainContext given. */
#ifndef DC_RECORDER_H
#define DC_RECORDER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dc_recorder dc_recorder;

/* The recording ended: error is NULL when it was stopped and both files are complete, else
 * what went wrong (for the operator; the files hold what was written before it). The
 * recorder frees itself after this returns. */
typedef void (*dc_recorder_done_fn)(gpointer user, const char *error);

/* The payload type the forwarded VP8 packets carry (rewritten so by the caller's slot). */
#define DC_RECORDER_VP8_PT 96

/* Creates both files, ready to write. NULL with an error when GStreamer or its plugins are
 * missing or a file cannot be made. The first start in a process loads GStreamer's plugins,
 * which takes a moment: the time line starts at dc_recorder_begin, not here. */
dc_recorder *dc_recorder_start(const char *audio_path, const char *video_path, GMainContext *ctx,
                               dc_recorder_done_fn done, gpointer user, GError **error);
/* The time line's zero (monotonic us), before the first push. */
void dc_recorder_begin(dc_recorder *r, uint64_t zero_us);

/* One Opus frame of the mix (mono, 48 kHz), `samples` long, made at now_us. */
void dc_recorder_push_audio(dc_recorder *r, const uint8_t *opus, size_t len, uint32_t samples,
                            uint64_t now_us);
/* One VP8 RTP packet (payload type DC_RECORDER_VP8_PT, one continuous stream), at now_us. */
void dc_recorder_push_video(dc_recorder *r, const uint8_t *rtp, size_t len, uint64_t now_us);

/* Ends both streams; the files are finished in the background and done is called (NULL or
 * an error). No push after this. */
void dc_recorder_stop(dc_recorder *r);
/* The same, waiting up to timeout_ms for the files to be finished (at shutdown, when no main
 * loop runs): done is called before it returns. */
void dc_recorder_stop_wait(dc_recorder *r, unsigned timeout_ms);

/* At the process's end, after every recorder finished: GStreamer's own memory back, so the
 * leak checker sees ours alone. Nothing may record after it. */
void dc_recorder_shutdown(void);

#endif
