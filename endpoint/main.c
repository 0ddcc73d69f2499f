/* main.c — diemcau-endpoint: joins a meeting by its link and runs until it is left.
 *
 * One GLib main loop; the session (session.c) does signaling and reconnecting, the media
 * (media.c) the GStreamer pipeline. Options, their defaults per build (the compact build
 * defaults to the highland profile) and the exit codes are here.
 */
#include <gst/gst.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "endpoint/device.h"
#include "endpoint/session.h"

#ifdef DC_COMPACT
#define DEFAULT_PROFILE "highland"
#else
#define DEFAULT_PROFILE "standard"
#endif

typedef struct {
  GMainLoop *loop;
  dc_session *session;
  dc_device *device;
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
  if (a->device)
    dc_device_stop(a->device);
  else
    dc_session_leave(a->session);
  return G_SOURCE_CONTINUE;
}

static int argc_shown(char **argv) {
  int n = 0;
  while (argv[n])
    n++;
  return n;
}

/* One string option from the config file, unless the command line gave it. */
static bool conf_string(GKeyFile *kf, const char *key, char **out) {
  GError *err = NULL;
  char *v = g_key_file_get_string(kf, "endpoint", key, &err);
  if (!v) {
    bool missing = g_error_matches(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
    if (!missing)
      fprintf(stderr, "diemcau-endpoint: config: %s: %s\n", key, err->message);
    g_error_free(err);
    return missing;
  }
  if (*out)
    g_free(v); /* the command line wins */
  else
    *out = g_strstrip(v);
  return true;
}

static bool conf_bool(GKeyFile *kf, const char *key, gboolean *out) {
  GError *err = NULL;
  gboolean v = g_key_file_get_boolean(kf, "endpoint", key, &err);
  if (err) {
    bool missing = g_error_matches(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND);
    if (!missing)
      fprintf(stderr, "diemcau-endpoint: config: %s must be true or false\n", key);
    g_error_free(err);
    return missing;
  }
  *out = *out || v;
  return true;
}

/* The unattended box's settings: [endpoint] bridge=, device-key=, and any option by name. */
static bool load_config(const char *path, char **bridge, char **device_key, char **name, char **profile, char **ca,
                        char **pin, gboolean *insecure, gboolean *audio_only, char **audio_source, char **video_source,
                        char **audio_sink, char **video_sink, gboolean *stats, int *slots) {
  GKeyFile *kf = g_key_file_new();
  GError *err = NULL;
  bool ok = g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err);
  if (!ok) {
    fprintf(stderr, "diemcau-endpoint: cannot read the config file %s: %s\n", path, err->message);
    g_error_free(err);
  } else if (!g_key_file_has_group(kf, "endpoint")) {
    fprintf(stderr, "diemcau-endpoint: %s has no [endpoint] group\n", path);
    ok = false;
  }
  ok = ok && conf_string(kf, "bridge", bridge) && conf_string(kf, "device-key", device_key) &&
       conf_string(kf, "name", name) && conf_string(kf, "profile", profile) && conf_string(kf, "ca", ca) &&
       conf_string(kf, "pin", pin) && conf_bool(kf, "insecure", insecure) && conf_bool(kf, "audio-only", audio_only) &&
       conf_string(kf, "audio-source", audio_source) && conf_string(kf, "video-source", video_source) &&
       conf_string(kf, "audio-sink", audio_sink) && conf_string(kf, "video-sink", video_sink) &&
       conf_bool(kf, "stats", stats);
  if (ok && !*slots && g_key_file_has_key(kf, "endpoint", "slots", NULL)) {
    *slots = g_key_file_get_integer(kf, "endpoint", "slots", &err);
    if (err) {
      fprintf(stderr, "diemcau-endpoint: config: slots must be a number\n");
      g_error_free(err);
      ok = false;
    }
  }
  if (ok && (!*bridge || !*device_key)) {
    fprintf(stderr, "diemcau-endpoint: %s must set bridge=https://BRIDGE:8443 and device-key= in [endpoint]\n", path);
    ok = false;
  }
  if (ok && !g_str_has_prefix(*bridge, "https://") && !g_str_has_prefix(*bridge, "http://")) {
    fprintf(stderr, "diemcau-endpoint: config: bridge must look like https://BRIDGE:8443\n");
    ok = false;
  }
  if (ok) {
    size_t n = strlen(*bridge);
    while (n && (*bridge)[n - 1] == '/')
      (*bridge)[--n] = '\0';
    GStatBuf st;
    if (g_stat(path, &st) == 0 && (st.st_mode & 077))
      fprintf(stderr, "diemcau-endpoint: warning: %s holds the device key and others can read it (chmod 600 it)\n", path);
  }
  g_key_file_free(kf);
  return ok;
}

static const char *exit_codes =
    "Exit codes: 0 left (asked to stop, or the meeting ended), 1 other failure, 2 bad options or\n"
    "link, 3 bridge unreachable, 4 bridge certificate not trusted, 5 invitation or device key not valid or\n"
    "withdrawn, 6 invitation expired, 7 meeting over or unknown, 8 no media connection.\n";

int main(int argc, char **argv) {
  setlocale(LC_ALL, "");
  char *link = NULL, *name = NULL, *profile = NULL, *ca = NULL, *pin = NULL, *config = NULL;
  char *bridge = NULL, *device_key = NULL;
  char *audio_source = NULL, *video_source = NULL, *audio_sink = NULL, *video_sink = NULL;
  gboolean insecure = FALSE, audio_only = FALSE, stats = FALSE, version = FALSE;
  int slots = 0, give_up = 60;
  GOptionEntry entries[] = {
      {"link", 'l', 0, G_OPTION_ARG_STRING, &link, "The join link from the operator (https://BRIDGE:8443/join#meeting=…&token=…)", "URL"},
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "Unattended: join this point's meetings by themselves, as the file's [endpoint] group says (bridge, device-key, and any option below)", "FILE"},
      {"name", 'n', 0, G_OPTION_ARG_STRING, &name, "Your name or your hall's, shown to the meeting (default: the host name)", "NAME"},
      {"profile", 'p', 0, G_OPTION_ARG_STRING, &profile, "Link profile: hall, standard or highland (default: the link's, else " DEFAULT_PROFILE ")", "PROFILE"},
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
  if (config && !load_config(config, &bridge, &device_key, &name, &profile, &ca, &pin, &insecure, &audio_only,
                             &audio_source, &video_source, &audio_sink, &video_sink, &stats, &slots))
    goto out;
  for (int i = 1; i < argc_shown(shown); i++) {
    char *t = strstr(shown[i], "token=");
    if (t)
      memset(t + 6, 'x', strcspn(t + 6, "&"));
  }
  if (!link && !config) {
    fprintf(stderr, "diemcau-endpoint: give the join link: --link 'https://BRIDGE:8443/join#meeting=…&token=…' "
                    "(or --config FILE for a box that joins by itself)\n");
    goto out;
  }
  if (link && config) {
    fprintf(stderr, "diemcau-endpoint: --link joins one meeting, --config a point's meetings: give one of them\n");
    goto out;
  }
  if (link && !dc_join_link_parse(link, &cfg.link, &err)) {
    fprintf(stderr, "diemcau-endpoint: %s\n", err->message);
    goto out;
  }
  if (link)
    memset(link, 0, strlen(link)); /* it holds the token */
  /* --profile, else the point's profile that its link carries, else the build's default */
  cfg.profile = profile ? dc_profile_find(profile) : cfg.link.profile ? cfg.link.profile : dc_profile_find(DEFAULT_PROFILE);
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

  app a = {g_main_loop_new(NULL, FALSE), NULL, NULL, -1};
  guint sigint = g_unix_signal_add(SIGINT, on_signal, &a), sigterm = g_unix_signal_add(SIGTERM, on_signal, &a);
  if (config) {
    dc_device_config dcfg = {.bridge_url = bridge, .device_key = device_key, .session = cfg};
    a.device = dc_device_new(&dcfg, on_end, &a);
    dc_device_start(a.device);
  } else {
    a.session = dc_session_new(&cfg, on_end, &a);
    dc_session_start(a.session);
  }
  if (a.code < 0) /* not over already (a CA file that cannot be read) */
    g_main_loop_run(a.loop);
  g_source_remove(sigint);
  g_source_remove(sigterm);
  dc_device_free(a.device);
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
  g_free(link), g_free(name), g_free(profile), g_free(ca), g_free(pin), g_free(config), g_free(bridge);
  if (device_key)
    memset(device_key, 0, strlen(device_key));
  g_free(device_key);
  g_free(audio_source), g_free(video_source), g_free(audio_sink), g_free(video_sink);
  return code;
}
