/* media_ice.c — what the endpoint does to webrtcbin's libnice agent (see media_private.h):
 * connectivity checks (RFC 8445 §7.2.5) sent more often than libnice's default for links
 * that lose a check's every try, ICE-TCP candidates (RFC 6544) only when asked, and the TURN
 * allocations given back at the close. */
#include "endpoint/media_private.h"

#include <nice/agent.h>

/* libnice sends a connectivity check (RFC 8445 7.2.5) 3 times, 500 ms after the first and
 * then doubling, and gives it up 3.5 s after the first. A highland link's round trip is
 * 600 ms, up to 1.7 s while the join's signaling fills its queue, and it loses one packet in
 * ten each way or more: the first join failed ICE in about half the lab runs on audio-32k
 * (the check, the nominating check of webrtcbin's regular nomination, or the bridge's own
 * check on the nominated pair went unanswered), and the next, 15-25 s later, got through.
 * DC_ICE_CHECK_SENDS (the bridge's agents have the same) sends each check 5 times, over
 * 7.5 s, and waits 15.5 s in all. webrtcbin 1.22 has no property for it; its ICE object
 * hands out its libnice agent. */
#define DC_ICE_CHECK_SENDS 5

/* And TCP candidates (RFC 6544) only when asked (dc_media_config.ice_tcp): with them, on a
 * lossy link the controlling agent (ours: webrtcbin offers) nominated the TCP pair in about
 * one join of ten, its checks having got through by retransmission where UDP's were lost. */
void media_tune_ice(GstElement *webrtc, bool tcp) {
  GObject *ice = NULL, *agent = NULL;
  g_object_get(webrtc, "ice-agent", &ice, NULL);
  if (ice && g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "ice-tcp"))
    g_object_set(ice, "ice-tcp", (gboolean)tcp, NULL);
  if (ice && g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
    g_object_get(ice, "agent", &agent, NULL);
  if (agent && g_object_class_find_property(G_OBJECT_GET_CLASS(agent), "stun-max-retransmissions"))
    g_object_set(agent, "stun-max-retransmissions", (guint)DC_ICE_CHECK_SENDS, NULL);
  else
    GST_WARNING("webrtcbin's ICE agent is not libnice's: connectivity checks keep its own retransmissions");
  g_clear_object(&agent);
  g_clear_object(&ice);
}

/* GStreamer 1.22's webrtcbin drops its libnice agent with the TURN refreshes alive (libnice
 * warns), and the TURN server keeps each allocation, with its relay port, for its lifetime
 * (coturn: 10 min): a point on a flapping link that joins again and again would pile them up.
 * Before the pipeline goes, the agent is asked to close them (a Refresh with lifetime 0 each)
 * and we wait for that, at most RELEASE_MS. The agent works on its own thread; its answer
 * comes to a context of our own, so nothing else of ours runs meanwhile. (Keeping the ICE
 * object past the pipeline instead let its thread outlive the process's exit, with OpenSSL's
 * per-thread state, which the sanitizer build reported as leaked.) */
#define RELEASE_MS 1000

static void relays_released(GObject *agent, GAsyncResult *res, gpointer done) {
  (void)agent, (void)res;
  *(bool *)done = true;
}

void media_release_relays(GstElement *webrtc) {
  GstObject *ice = NULL;
  g_object_get(webrtc, "ice-agent", &ice, NULL);
  NiceAgent *agent = NULL;
  if (ice && g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
    g_object_get(ice, "agent", &agent, NULL);
  if (agent) {
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    bool done = false;
    nice_agent_close_async(agent, relays_released, &done);
    gint64 end = g_get_monotonic_time() + RELEASE_MS * 1000;
    while (!done && g_get_monotonic_time() < end)
      if (!g_main_context_iteration(ctx, FALSE))
        g_usleep(2000);
    if (!done)
      GST_WARNING("a TURN server did not answer within %d ms; its relay ends by itself", RELEASE_MS);
    g_main_context_pop_thread_default(ctx);
    /* a late answer is dropped with the context: the task holds what it needs */
    g_main_context_unref(ctx);
    g_object_unref(agent);
  }
  if (ice)
    gst_object_unref(ice);
}
