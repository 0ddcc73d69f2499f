/* main.c — diemcau-endpoint: joins a meeting by its link and runs until it is left.
 *
 * One GLib main loop; the session (session.c) does signaling and reconnecting, the media
 * (media.c) the GStreamer pipeline. Options, their defaults per build (the compact build
 * defaults to the highland profile) and the exit codes are here.
 */
#include <gst/gst.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "endpoint/session.h"

#ifdef DC_COMPACT
#define DEFAULT_PROFILE "highland"
#else
#define DEFAULT_PROFILE "standard"
#endif

typedef struct {
  GMainLoop *loop;
  dc_session *session;
  int code;
} app;

static void on_end(int code, void *user) {
  app *a = user;
  a->code = code;
  g_main_loop_quit(a->loop);
}

static gboolean on_signal(gpointer data) {
  app *a = data;
  fprintf(stderr, "diemcau-endpoint: leaving the meeting\n");
  dc_session_leave(a->session);
  return G_SOURCE_CONTINUE;
}

static int argc_shown(char **argv) {
  int n = 0;
  while (argv[n])
    n++;
  return n;
}

static const char *exit_codes =
    "Exit codes: 0 left (asked to stop, or the meeting ended), 1 other failure, 2 bad options or\n"
    "link, 3 bridge unreachable, 4 bridge certificate not trusted, 5 invitation not valid or\n"
    "withdrawn, 6 invitation expired, 7 meeting over or unknown, 8 no media connection.\n";

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  char *link = NULL, *name = NULL, *profile = NULL, *ca = NULL, *pin = NULL;
  char *audio_source = NULL, *video_source = NULL, *audio_sink = NULL, *video_sink = NULL;
  gboolean insecure = FALSE, audio_only = FALSE, stats = FALSE, version = FALSE;
  int slots = 0, give_up = 60;
  GOptionEntry entries[] = {
      {"link", 'l', 0, G_OPTION_ARG_STRING, &link, "The join link from the operator (https://BRIDGE:8443/join?meeting=…&token=…)", "URL"},
      {"name", 'n', 0, G_OPTION_ARG_STRING, &name, "Your name or your hall's, shown to the meeting (default: the host name)", "NAME"},
      {"profile", 'p', 0, G_OPTION_ARG_STRING, &profile, "Link profile: hall, standard or highland (default " DEFAULT_PROFILE ")", "PROFILE"},
      {"audio-only", 0, 0, G_OPTION_ARG_NONE, &audio_only, "Send and receive no video (the smallest link)", NULL},
      {"slots", 0, 0, G_OPTION_ARG_INT, &slots, "Video slots to show, 1-9 (default: the profile's)", "N"},
      {"ca", 0, 0, G_OPTION_ARG_FILENAME, &ca, "Trust the bridge certificate this CA file (PEM) vouches for", "FILE"},
      {"pin", 0, 0, G_OPTION_ARG_STRING, &pin, "Trust the bridge certificate with this SHA-256 fingerprint", "AB:CD:…"},
      {"insecure", 0, 0, G_OPTION_ARG_NONE, &insecure, "Do not check the bridge's certificate (tests only)", NULL},
      {"audio-source", 0, 0, G_OPTION_ARG_STRING, &audio_source, "test:FREQ (a tone) or a WAV file instead of the microphone", "SRC"},
      {"video-source", 0, 0, G_OPTION_ARG_STRING, &video_source, "test (a moving picture) or a video file instead of the camera", "SRC"},
      {"audio-sink", 0, 0, G_OPTION_ARG_STRING, &audio_sink, "fake, or a WAV file to record the meeting's sound into", "SINK"},
      {"video-sink", 0, 0, G_OPTION_ARG_STRING, &video_sink, "fake, or a Matroska file to record the grid into", "SINK"},
      {"stats", 0, 0, G_OPTION_ARG_NONE, &stats, "Print one JSON line of link statistics per second on stdout", NULL},
      {"give-up-after", 0, 0, G_OPTION_ARG_INT, &give_up, "Stop trying to reach the bridge after this many seconds (0: never; default 60)", "S"},
      {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  /* The link's token is a secret: keep it out of ps and /proc/PID/cmdline once parsed
   * (the strings argv points at are what those show). */
  char **shown = g_memdup2(argv, sizeof *argv * (size_t)(argc + 1));
  GOptionContext *ctx = g_option_context_new("- join a diemcau meeting");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_description(ctx, exit_codes);
  g_option_context_add_group(ctx, gst_init_get_option_group());
  GError *err = NULL;
  int code = DC_EXIT_USAGE;
  dc_session_config cfg = {0};
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fprintf(stderr, "diemcau-endpoint: %s (see --help)\n", err->message);
    goto out;
  }
  if (version) {
    printf("diemcau-endpoint %s%s\n", DC_VERSION,
#ifdef DC_COMPACT
           " (compact build)"
#else
           ""
#endif
    );
    code = DC_EXIT_OK;
    goto out;
  }
  for (int i = 1; i < argc_shown(shown); i++) {
    char *t = strstr(shown[i], "token=");
    if (t)
      memset(t + 6, 'x', strcspn(t + 6, "&"));
  }
  if (!link) {
    fprintf(stderr, "diemcau-endpoint: give the join link: --link 'https://BRIDGE:8443/join?meeting=…&token=…'\n");
    goto out;
  }
  if (!dc_join_link_parse(link, &cfg.link, &err)) {
    fprintf(stderr, "diemcau-endpoint: %s\n", err->message);
    goto out;
  }
  memset(link, 0, strlen(link)); /* it holds the token */
  cfg.profile = dc_profile_find(profile ? profile : DEFAULT_PROFILE);
  if (!cfg.profile) {
    fprintf(stderr, "diemcau-endpoint: --profile must be %s, not \"%s\"\n", dc_profile_names(), profile);
    goto out;
  }
  if (slots && (slots < 1 || slots > 9)) {
    fprintf(stderr, "diemcau-endpoint: --slots must be 1-9\n");
    goto out;
  }
  if (give_up < 0) {
    fprintf(stderr, "diemcau-endpoint: --give-up-after must be 0 (never) or more\n");
    goto out;
  }
  if (audio_source && g_str_has_prefix(audio_source, "test:")) {
    char *end = NULL;
    double f = g_ascii_strtod(audio_source + 5, &end);
    if (!end || *end || f < 20 || f > 20000) {
      fprintf(stderr, "diemcau-endpoint: --audio-source test:FREQ takes a frequency of 20-20000 Hz\n");
      goto out;
    }
  } else if (audio_source && !g_file_test(audio_source, G_FILE_TEST_IS_REGULAR)) {
    fprintf(stderr, "diemcau-endpoint: --audio-source: no such file %s\n", audio_source);
    goto out;
  }
  if (video_source && strcmp(video_source, "test") && !g_file_test(video_source, G_FILE_TEST_IS_REGULAR)) {
    fprintf(stderr, "diemcau-endpoint: --video-source: no such file %s\n", video_source);
    goto out;
  }
  if (cfg.link.ws_url && g_str_has_prefix(cfg.link.ws_url, "ws:") && (pin || ca))
    fprintf(stderr, "diemcau-endpoint: the link is http://, so --pin and --ca have nothing to check\n");
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0)
    strcpy(host, "diemcau-endpoint");
  cfg.name = g_strdup(name ? name : host);
  cfg.ca_file = ca;
  cfg.pin = pin;
  cfg.insecure = insecure;
  cfg.stats = stats;
  cfg.give_up_after_s = (unsigned)give_up;
  cfg.leave_when_ended = true;
  cfg.media = (dc_media_config){.slots = slots ? slots : cfg.profile->slots, .audio_only = audio_only,
                                .audio_source = audio_source, .video_source = video_source,
                                .audio_sink = audio_sink, .video_sink = video_sink};

  app a = {g_main_loop_new(NULL, FALSE), NULL, -1};
  a.session = dc_session_new(&cfg, on_end, &a);
  guint sigint = g_unix_signal_add(SIGINT, on_signal, &a), sigterm = g_unix_signal_add(SIGTERM, on_signal, &a);
  dc_session_start(a.session);
  if (a.code < 0) /* not over already (a CA file that cannot be read) */
    g_main_loop_run(a.loop);
  g_source_remove(sigint);
  g_source_remove(sigterm);
  dc_session_free(a.session);
  g_main_loop_unref(a.loop);
  code = a.code;
out:
  if (err)
    g_error_free(err);
  dc_join_link_clear(&cfg.link);
  g_free(cfg.name);
  g_option_context_free(ctx);
  g_free(shown);
  g_free(link), g_free(name), g_free(profile), g_free(ca), g_free(pin);
  g_free(audio_source), g_free(video_source), g_free(audio_sink), g_free(video_sink);
  return code;
}
