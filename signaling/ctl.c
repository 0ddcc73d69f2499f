/* ctl.c — diemcau-ctl: the operator REST API (signaling/api.c) from a shell.
 *
 * Tables for people by default, the API's own JSON with --json for scripts. The bridge and
 * the key come from --url/--key, else DIEMCAU_URL/DIEMCAU_KEY, else the [ctl] group of
 * --config FILE or ~/.config/diemcau/ctl.conf. Times are typed and shown on the bridge's
 * wall clock (its --time-zone, which it tells us), as "YYYY-MM-DD HH:MM".
 *
 * A bridge with its own self-signed certificate is trusted with --pin (the fingerprint it
 * logs at start), --ca FILE, or --insecure on a machine's own loopback.
 *
 * Exit codes (also in --help): 0 done; 1 the bridge failed (5xx) or gave an answer we do not
 * understand; 2 bad usage; 3 the bridge cannot be reached; 4 the key is refused (401/403);
 * 5 no such thing (404); 6 the bridge refused the values (400, 409).
 *
 * The tables people read are made in ctl_show.c (ctl_private.h).
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint/profile.h"
#include "signaling/ctl_private.h"

enum { EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED_KEY, EXIT_NOT_FOUND, EXIT_INVALID };

static struct {
  char *url, *key, *config, *pin, *ca;
  gboolean json, insecure, csv, all;
  /* command options */
  char *kind, *profile, *contact, *name, *role, *title, *start, *end, *every, *host, *from, *to;
  int minutes, count, open_before, limit;
  gint64 point, group;
  SoupSession *http;
  GTimeZone *tz;
  char *refused_fp;
} C = {.open_before = -1, .limit = 50};

G_GNUC_PRINTF(1, 2) static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, "diemcau-ctl: %s\n", text);
  g_free(text);
}

/* ---- talking to the bridge ---- */

static gboolean accept_cert(SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer data) {
  char *fp = dc_certificate_fingerprint(cert);
  bool ok = C.insecure || (C.pin && dc_fingerprint_matches(C.pin, fp));
  g_free(C.refused_fp);
  C.refused_fp = ok ? NULL : fp;
  if (ok)
    g_free(fp);
  return ok;
}

/* Sends the request; returns the exit code, with the reply's body in *out (g_bytes_unref). On
 * an error reply, says what the bridge said. */
static int request(const char *method, const char *path, const char *body, GBytes **out) {
  *out = NULL;
  char *url = g_strconcat(C.url, path, NULL);
  SoupMessage *msg = soup_message_new(method, url);
  if (!msg) {
    fail("%s is not a URL (give the bridge as https://HOST:8443)", url);
    g_free(url);
    return EXIT_USAGE;
  }
  g_free(url);
  char *auth = g_strconcat("Bearer ", C.key, NULL);
  soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", auth);
  g_free(auth);
  if (body) {
    GBytes *b = g_bytes_new(body, strlen(body));
    soup_message_set_request_body_from_bytes(msg, "application/json", b);
    g_bytes_unref(b);
  }
  g_signal_connect(msg, "accept-certificate", G_CALLBACK(accept_cert), NULL);
  GError *err = NULL;
  GBytes *reply = soup_session_send_and_read(C.http, msg, NULL, &err);
  if (!reply) {
    if (C.refused_fp)
      fail("the bridge's TLS certificate is not trusted (SHA-256 %s). If it is your bridge's own "
           "certificate, run again with --pin %s (or --ca FILE with its tls-cert.pem)", C.refused_fp, C.refused_fp);
    else
      fail("cannot reach the bridge at %s: %s", C.url, err->message);
    g_error_free(err);
    g_object_unref(msg);
    return EXIT_UNREACHABLE;
  }
  guint status = soup_message_get_status(msg);
  g_object_unref(msg);
  if (status >= 200 && status < 300) {
    *out = reply;
    return EXIT_OK;
  }
  JsonParser *p = json_parser_new();
  gsize len;
  const char *data = g_bytes_get_data(reply, &len);
  const char *message = NULL;
  JsonNode *top = json_parser_load_from_data(p, data, (gssize)len, NULL) ? json_parser_get_root(p) : NULL;
  if (top && JSON_NODE_HOLDS_OBJECT(top)) { /* an empty body has no root */
    JsonObject *o = json_node_get_object(top);
    JsonObject *e = json_object_has_member(o, "error") ? json_object_get_object_member(o, "error") : NULL;
    message = e && json_object_has_member(e, "message") ? json_object_get_string_member(e, "message") : NULL;
  }
  fail("the bridge answered %u: %s", status, message ? message : "(no explanation)");
  g_object_unref(p);
  g_bytes_unref(reply);
  return status == 401 || status == 403 ? EXIT_REFUSED_KEY
         : status == 404                ? EXIT_NOT_FOUND
         : status == 400 || status == 409 || status == 413 ? EXIT_INVALID
                                                         : EXIT_FAILED;
}

/* A request whose reply is JSON: parsed into *root (json_node_unref), or the exit code. */
static int request_json(const char *method, const char *path, const char *body, JsonNode **root) {
  GBytes *reply;
  int rc = request(method, path, body, &reply);
  if (rc)
    return rc;
  JsonParser *p = json_parser_new();
  gsize len;
  const char *data = g_bytes_get_data(reply, &len);
  if (!json_parser_load_from_data(p, data, (gssize)len, NULL) || !json_parser_get_root(p)) {
    fail("the bridge's answer is not JSON; is %s a diemcau bridge?", C.url);
    rc = EXIT_FAILED;
  } else {
    *root = json_node_copy(json_parser_get_root(p));
  }
  g_object_unref(p);
  g_bytes_unref(reply);
  return rc;
}

/* ---- reading what the operator typed ---- */

/* "YYYY-MM-DD HH:MM" (or with T, or with :SS) on the bridge's wall clock, or "@UNIX". */
static bool parse_time(const char *text, gint64 *out) {
  if (text[0] == '@') {
    char *end;
    long long v = strtoll(text + 1, &end, 10);
    *out = v;
    return text[1] && !*end;
  }
  int y, mo, d, h, mi, s = 0;
  char sep;
  int n = sscanf(text, "%d-%d-%d%c%d:%d:%d", &y, &mo, &d, &sep, &h, &mi, &s);
  if (n < 6 || (sep != ' ' && sep != 'T'))
    return false;
  GDateTime *t = g_date_time_new(C.tz, y, mo, d, h, mi, s);
  if (!t)
    return false;
  *out = g_date_time_to_unix(t);
  g_date_time_unref(t);
  return true;
}

static bool want_args(char **argv, int argc, int need, const char *usage) {
  if (argc >= need)
    return true;
  fail("usage: diemcau-ctl %s", usage);
  return false;
}

static bool as_id(const char *s, gint64 *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v <= 0) {
    fail("\"%s\" is not an id (a whole number; see the list commands)", s);
    return false;
  }
  *out = v;
  return true;
}

/* A JSON object body from member/value pairs; a NULL value leaves its member out. */
static char *body_of(JsonBuilder *b) {
  json_builder_end_object(b);
  JsonNode *root = json_builder_get_root(b);
  char *text = json_to_string(root, FALSE);
  json_node_unref(root);
  g_object_unref(b);
  return text;
}

static void add_str(JsonBuilder *b, const char *name, const char *v) {
  if (!v)
    return;
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, v);
}

static void add_int(JsonBuilder *b, const char *name, gint64 v) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, v);
}

/* ---- commands ---- */

static int show(const char *method, const char *path, const char *body, void (*human)(JsonNode *)) {
  JsonNode *root = NULL;
  int rc = request_json(method, path, body, &root);
  if (rc)
    return rc;
  if (C.json || !human)
    ctl_print_json(root);
  else
    human(root);
  json_node_unref(root);
  return EXIT_OK;
}

static void whoami_line(JsonNode *root) {
  JsonObject *o = json_node_get_object(root);
  printf("%s (%s key) at %s, bridge %s, time zone %s\n", ctl_str(o, "name"), ctl_str(o, "role"), C.url, ctl_str(o, "version"),
         ctl_str(o, "time_zone"));
}

static int cmd_points(int argc, char **argv) {
  const char *usage = "points list | points add NAME --kind hall|commune|other --profile hall|standard|highland "
                      "[--contact TEXT] | points edit ID [--name] [--kind] [--profile] [--contact] | points device-key ID";
  if (!want_args(argv, argc, 2, usage))
    return EXIT_USAGE;
  gint64 id;
  if (!strcmp(argv[1], "list"))
    return show("GET", "/api/points", NULL, ctl_points_table);
  if (!strcmp(argv[1], "add") && want_args(argv, argc, 3, usage)) {
    if (!C.kind || !C.profile) {
      fail("points add needs --kind (hall, commune or other) and --profile (hall, standard or highland)");
      return EXIT_USAGE;
    }
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_str(b, "name", argv[2]);
    add_str(b, "kind", C.kind);
    add_str(b, "link_profile", C.profile);
    add_str(b, "contact", C.contact);
    char *body = body_of(b);
    int rc = show("POST", "/api/points", body, ctl_point_one);
    g_free(body);
    return rc;
  }
  if (!strcmp(argv[1], "edit") && want_args(argv, argc, 3, usage) && as_id(argv[2], &id)) {
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_str(b, "name", C.name);
    add_str(b, "kind", C.kind);
    add_str(b, "link_profile", C.profile);
    add_str(b, "contact", C.contact);
    char *body = body_of(b), *path = g_strdup_printf("/api/points/%" G_GINT64_FORMAT, id);
    int rc = show("PATCH", path, body, ctl_point_one);
    g_free(body), g_free(path);
    return rc;
  }
  if (!strcmp(argv[1], "device-key") && want_args(argv, argc, 3, usage) && as_id(argv[2], &id)) {
    char *path = g_strdup_printf("/api/points/%" G_GINT64_FORMAT "/device-key", id);
    int rc = show("POST", path, "{}", ctl_device_key_line);
    g_free(path);
    return rc;
  }
  if (argc >= 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "edit") && strcmp(argv[1], "device-key")))
    fail("usage: diemcau-ctl %s", usage);
  return EXIT_USAGE;
}

static int cmd_groups(int argc, char **argv) {
  const char *usage = "groups list | groups add NAME | groups add-point GROUP POINT | groups remove-point GROUP POINT";
  if (!want_args(argv, argc, 2, usage))
    return EXIT_USAGE;
  if (!strcmp(argv[1], "list"))
    return show("GET", "/api/groups", NULL, ctl_groups_table);
  if (!strcmp(argv[1], "add") && want_args(argv, argc, 3, usage)) {
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_str(b, "name", argv[2]);
    char *body = body_of(b);
    int rc = show("POST", "/api/groups", body, ctl_group_one);
    g_free(body);
    return rc;
  }
  gint64 g, p;
  bool add = !strcmp(argv[1], "add-point");
  if ((add || !strcmp(argv[1], "remove-point")) && want_args(argv, argc, 4, usage) && as_id(argv[2], &g) &&
      as_id(argv[3], &p)) {
    char *path = g_strdup_printf("/api/groups/%" G_GINT64_FORMAT "/points/%" G_GINT64_FORMAT, g, p);
    int rc = show(add ? "PUT" : "DELETE", path, NULL, ctl_group_one);
    g_free(path);
    return rc;
  }
  if (argc < 3)
    fail("usage: diemcau-ctl %s", usage);
  return EXIT_USAGE;
}

static bool time_option(const char *opt, const char *text, gint64 *out) {
  if (!text)
    return true;
  if (parse_time(text, out))
    return true;
  fail("%s \"%s\": give a time as \"YYYY-MM-DD HH:MM\" (the bridge's time zone) or @UNIX", opt, text);
  return false;
}

static int cmd_meetings(int argc, char **argv) {
  const char *usage =
      "meetings list [--from TIME] [--to TIME] [--all] | meetings create TITLE --start TIME (--end TIME | --minutes N) "
      "[--host POINT] [--open-before MIN] [--every day|week --count N] | meetings show|live|end|cancel ID | "
      "meetings edit ID [--title T] [--start TIME] [--end TIME] [--open-before MIN]";
  if (!want_args(argv, argc, 2, usage))
    return EXIT_USAGE;
  gint64 id, start = 0, end = 0;
  if (!strcmp(argv[1], "list")) {
    gint64 from = 0, to = 0;
    if (!time_option("--from", C.from, &from) || !time_option("--to", C.to, &to))
      return EXIT_USAGE;
    if (!C.from && !C.all) /* by default: from the start of today on */
      {
        GDateTime *now = g_date_time_new_now(C.tz);
        GDateTime *day = g_date_time_new(C.tz, g_date_time_get_year(now), g_date_time_get_month(now),
                                         g_date_time_get_day_of_month(now), 0, 0, 0);
        from = g_date_time_to_unix(day);
        g_date_time_unref(day), g_date_time_unref(now);
      }
    GString *path = g_string_new("/api/meetings");
    if (from)
      g_string_append_printf(path, "?from=%" G_GINT64_FORMAT, from);
    if (to)
      g_string_append_printf(path, "%sto=%" G_GINT64_FORMAT, from ? "&" : "?", to);
    int rc = show("GET", path->str, NULL, ctl_meetings_table);
    g_string_free(path, TRUE);
    return rc;
  }
  if (!strcmp(argv[1], "create") && want_args(argv, argc, 3, usage)) {
    if (!C.start || (!C.end && !C.minutes)) {
      fail("meetings create needs --start and --end (or --minutes)");
      return EXIT_USAGE;
    }
    if (!time_option("--start", C.start, &start) || !time_option("--end", C.end, &end))
      return EXIT_USAGE;
    if (!C.end)
      end = start + (gint64)C.minutes * 60;
    if ((C.every && !C.count) || (!C.every && C.count)) {
      fail("a series needs both --every day|week and --count N");
      return EXIT_USAGE;
    }
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_str(b, "title", argv[2]);
    add_int(b, "starts_at", start);
    add_int(b, "ends_at", end);
    if (C.host) {
      gint64 host;
      if (!as_id(C.host, &host)) {
        g_object_unref(b);
        return EXIT_USAGE;
      }
      add_int(b, "host_point_id", host);
    }
    if (C.open_before >= 0)
      add_int(b, "open_before_s", (gint64)C.open_before * 60);
    if (C.every) {
      json_builder_set_member_name(b, "repeat");
      json_builder_begin_object(b);
      add_str(b, "every", C.every);
      add_int(b, "count", C.count);
      json_builder_end_object(b);
    }
    char *body = body_of(b);
    int rc = show("POST", "/api/meetings", body, ctl_meeting_one);
    g_free(body);
    return rc;
  }
  if (argc < 3 || !as_id(argv[2], &id)) {
    if (argc < 3)
      fail("usage: diemcau-ctl %s", usage);
    return EXIT_USAGE;
  }
  char *path = NULL;
  int rc = EXIT_USAGE;
  if (!strcmp(argv[1], "show")) {
    path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT, id);
    rc = show("GET", path, NULL, ctl_meeting_one);
  } else if (!strcmp(argv[1], "live")) {
    path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/live", id);
    rc = show("GET", path, NULL, ctl_live_table);
  } else if (!strcmp(argv[1], "end") || !strcmp(argv[1], "cancel")) {
    path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/%s", id, argv[1]);
    rc = show("POST", path, "{}", ctl_done_line);
  } else if (!strcmp(argv[1], "edit")) {
    if (!time_option("--start", C.start, &start) || !time_option("--end", C.end, &end))
      return EXIT_USAGE;
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_str(b, "title", C.title);
    if (start)
      add_int(b, "starts_at", start);
    if (end)
      add_int(b, "ends_at", end);
    if (C.open_before >= 0)
      add_int(b, "open_before_s", (gint64)C.open_before * 60);
    char *body = body_of(b);
    path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT, id);
    rc = show("PATCH", path, body, ctl_meeting_one);
    g_free(body);
  } else {
    fail("usage: diemcau-ctl %s", usage);
  }
  g_free(path);
  return rc;
}

static int cmd_invite(int argc, char **argv) {
  gint64 id;
  if (!want_args(argv, argc, 2, "invite MEETING (--point ID | --group ID) [--role host|participant|observer]") ||
      !as_id(argv[1], &id))
    return EXIT_USAGE;
  if (!C.point == !C.group) {
    fail("invite needs --point ID or --group ID (one of them)");
    return EXIT_USAGE;
  }
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  add_int(b, C.point ? "point_id" : "group_id", C.point ? C.point : C.group);
  add_str(b, "role", C.role);
  char *body = body_of(b), *path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/invitations", id);
  int rc = show("POST", path, body, ctl_invitations_table);
  g_free(body), g_free(path);
  return rc;
}

static int cmd_revoke(int argc, char **argv) {
  gint64 id;
  if (!want_args(argv, argc, 2, "revoke INVITATION") || !as_id(argv[1], &id))
    return EXIT_USAGE;
  char *path = g_strdup_printf("/api/invitations/%" G_GINT64_FORMAT "/revoke", id);
  int rc = show("POST", path, "{}", ctl_done_line);
  g_free(path);
  return rc;
}

static int cmd_attendance(int argc, char **argv) {
  gint64 id;
  if (!want_args(argv, argc, 2, "attendance MEETING [--csv]") || !as_id(argv[1], &id))
    return EXIT_USAGE;
  char *path = g_strdup_printf("/api/meetings/%" G_GINT64_FORMAT "/attendance%s", id, C.csv ? "?format=csv" : "");
  int rc;
  if (C.csv) {
    GBytes *reply;
    rc = request("GET", path, NULL, &reply);
    if (!rc) {
      fwrite(g_bytes_get_data(reply, NULL), 1, g_bytes_get_size(reply), stdout);
      g_bytes_unref(reply);
    }
  } else {
    rc = show("GET", path, NULL, ctl_attendance_table);
  }
  g_free(path);
  return rc;
}

static int cmd_keys(int argc, char **argv) {
  const char *usage = "keys list | keys add NAME --role admin|operator|viewer | keys revoke ID";
  if (!want_args(argv, argc, 2, usage))
    return EXIT_USAGE;
  if (!strcmp(argv[1], "list"))
    return show("GET", "/api/keys", NULL, ctl_keys_table);
  if (!strcmp(argv[1], "add") && want_args(argv, argc, 3, usage)) {
    if (!C.role) {
      fail("keys add needs --role admin, operator or viewer");
      return EXIT_USAGE;
    }
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    add_str(b, "name", argv[2]);
    add_str(b, "role", C.role);
    char *body = body_of(b);
    int rc = show("POST", "/api/keys", body, ctl_key_made);
    g_free(body);
    return rc;
  }
  gint64 id;
  if (!strcmp(argv[1], "revoke") && want_args(argv, argc, 3, usage) && as_id(argv[2], &id)) {
    char *path = g_strdup_printf("/api/keys/%" G_GINT64_FORMAT "/revoke", id);
    int rc = show("POST", path, "{}", ctl_done_line);
    g_free(path);
    return rc;
  }
  if (argc < 3)
    fail("usage: diemcau-ctl %s", usage);
  return EXIT_USAGE;
}

static int cmd_backup(int argc, char **argv) {
  if (!want_args(argv, argc, 2, "backup FILE"))
    return EXIT_USAGE;
  if (g_file_test(argv[1], G_FILE_TEST_EXISTS)) {
    fail("%s exists: a backup goes to a new file", argv[1]);
    return EXIT_USAGE;
  }
  GBytes *reply;
  int rc = request("GET", "/api/backup", NULL, &reply);
  if (rc)
    return rc;
  GError *err = NULL;
  gsize len;
  const char *data = g_bytes_get_data(reply, &len);
  if (len < 16 || memcmp(data, "SQLite format 3", 16)) {
    fail("the bridge's answer is not an SQLite database");
    rc = EXIT_FAILED;
  } else if (!g_file_set_contents_full(argv[1], data, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err)) {
    fail("%s", err->message);
    g_error_free(err);
    rc = EXIT_FAILED;
  } else if (!C.json) {
    printf("backup of the store written to %s (%zu bytes)\n", argv[1], (size_t)len);
  } else {
    printf("{\"file\":\"%s\",\"bytes\":%zu}\n", argv[1], (size_t)len);
  }
  g_bytes_unref(reply);
  return rc;
}

/* ---- settings ---- */

static bool read_config(void) {
  char *path = C.config ? g_strdup(C.config) : g_build_filename(g_get_user_config_dir(), "diemcau", "ctl.conf", NULL);
  bool explicit = C.config != NULL;
  GKeyFile *kf = g_key_file_new();
  GError *err = NULL;
  bool ok = true;
  if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
    if (!C.url)
      C.url = g_key_file_get_string(kf, "ctl", "url", NULL);
    if (!C.key)
      C.key = g_key_file_get_string(kf, "ctl", "key", NULL);
    if (!C.pin)
      C.pin = g_key_file_get_string(kf, "ctl", "pin", NULL);
    if (!C.ca)
      C.ca = g_key_file_get_string(kf, "ctl", "ca", NULL);
  } else if (explicit) { /* the default file may well not exist */
    fail("cannot read the config file %s: %s", path, err->message);
    ok = false;
  }
  g_clear_error(&err);
  g_key_file_free(kf);
  g_free(path);
  return ok;
}

static const char *help_text =
    "Commands:\n"
    "  whoami                                  the key's name and role, the bridge's time zone\n"
    "  points list | add NAME --kind K --profile P [--contact C] | edit ID [...] | device-key ID\n"
    "  groups list | add NAME | add-point GROUP POINT | remove-point GROUP POINT\n"
    "  meetings list [--from T] [--to T] [--all]\n"
    "  meetings create TITLE --start T (--end T | --minutes N) [--host POINT] [--open-before MIN]\n"
    "                        [--every day|week --count N]\n"
    "  meetings show|live|end|cancel ID | meetings edit ID [--title] [--start] [--end] [--open-before]\n"
    "  invite MEETING (--point ID | --group ID) [--role host|participant|observer]\n"
    "  revoke INVITATION\n"
    "  attendance MEETING [--csv]\n"
    "  keys list | add NAME --role admin|operator|viewer | revoke ID\n"
    "  audit [--limit N]\n"
    "  backup FILE                             SQLite's online backup of the bridge's store\n"
    "\n"
    "Times (T) are \"YYYY-MM-DD HH:MM\" on the bridge's clock (its time zone) or @UNIX.\n"
    "The bridge and key: --url/--key, else DIEMCAU_URL/DIEMCAU_KEY, else [ctl] url= key= pin= in\n"
    "--config FILE or ~/.config/diemcau/ctl.conf.\n"
    "\n"
    "Exit codes: 0 done; 1 the bridge failed; 2 bad usage; 3 the bridge cannot be reached;\n"
    "4 the key is refused; 5 no such thing; 6 the bridge refused the values.";

int main(int argc, char **argv) {
  gint64 point = 0, group = 0;
  GOptionEntry entries[] = {
      {"url", 'u', 0, G_OPTION_ARG_FILENAME, &C.url, "The bridge, https://HOST:8443", "URL"},
      {"key", 'k', 0, G_OPTION_ARG_FILENAME, &C.key, "Operator key (better: DIEMCAU_KEY or the config file)", "KEY"},
      {"config", 'c', 0, G_OPTION_ARG_FILENAME, &C.config, "Config file with a [ctl] group", "FILE"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &C.json, "Print the API's JSON instead of tables", NULL},
      {"pin", 0, 0, G_OPTION_ARG_FILENAME, &C.pin, "Trust the bridge certificate with this SHA-256 fingerprint", "AB:CD:…"},
      {"ca", 0, 0, G_OPTION_ARG_FILENAME, &C.ca, "Trust certificates signed by this CA file (PEM)", "FILE"},
      {"insecure", 0, 0, G_OPTION_ARG_NONE, &C.insecure, "Trust any certificate (a bridge on this machine only)", NULL},
      {"kind", 0, 0, G_OPTION_ARG_FILENAME, &C.kind, "Point kind: hall, commune or other", "K"},
      {"profile", 0, 0, G_OPTION_ARG_FILENAME, &C.profile, "Link profile: hall, standard or highland", "P"},
      {"contact", 0, 0, G_OPTION_ARG_FILENAME, &C.contact, "Who to call at the point", "TEXT"},
      {"name", 0, 0, G_OPTION_ARG_FILENAME, &C.name, "New name (points edit)", "NAME"},
      {"role", 0, 0, G_OPTION_ARG_FILENAME, &C.role, "Invitation role, or key role", "ROLE"},
      {"title", 0, 0, G_OPTION_ARG_FILENAME, &C.title, "New title (meetings edit)", "TITLE"},
      {"start", 0, 0, G_OPTION_ARG_FILENAME, &C.start, "Start time", "T"},
      {"end", 0, 0, G_OPTION_ARG_FILENAME, &C.end, "End time", "T"},
      {"minutes", 0, 0, G_OPTION_ARG_INT, &C.minutes, "Length, instead of --end", "N"},
      {"host", 0, 0, G_OPTION_ARG_FILENAME, &C.host, "The host point's id", "POINT"},
      {"open-before", 0, 0, G_OPTION_ARG_INT, &C.open_before, "Minutes before the start that points may join (default 15)", "MIN"},
      {"every", 0, 0, G_OPTION_ARG_FILENAME, &C.every, "Repeat every day or week", "day|week"},
      {"count", 0, 0, G_OPTION_ARG_INT, &C.count, "Occurrences in the series (1-104)", "N"},
      {"point", 0, 0, G_OPTION_ARG_INT64, &point, "A point's id (invite)", "ID"},
      {"group", 0, 0, G_OPTION_ARG_INT64, &group, "A group's id (invite)", "ID"},
      {"from", 0, 0, G_OPTION_ARG_FILENAME, &C.from, "List from this time (default: today)", "T"},
      {"to", 0, 0, G_OPTION_ARG_FILENAME, &C.to, "List to this time", "T"},
      {"all", 0, 0, G_OPTION_ARG_NONE, &C.all, "List every meeting, past ones too", NULL},
      {"csv", 0, 0, G_OPTION_ARG_NONE, &C.csv, "Attendance as CSV", NULL},
      {"limit", 0, 0, G_OPTION_ARG_INT, &C.limit, "Audit entries to show (default 50)", "N"},
      G_OPTION_ENTRY_NULL};
  GOptionContext *ctx = g_option_context_new("COMMAND [ARGS] - the diemcau operator API from a shell");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_set_description(ctx, help_text);
  GError *err = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
    fail("%s (try --help)", err->message);
    return EXIT_USAGE;
  }
  g_option_context_free(ctx);
  /* Strings are taken as the bytes typed (GOption would convert them from the locale's
   * charset, which under LANG=C refuses every Vietnamese letter) and must be UTF-8. */
  char *texts[] = {C.url, C.key, C.pin, C.kind, C.profile, C.contact, C.name, C.role, C.title, C.start, C.end,
                   C.every, C.host, C.from, C.to};
  for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
    if (texts[i] && !g_utf8_validate(texts[i], -1, NULL)) {
      fail("\"%s\" is not UTF-8 text", texts[i]);
      return EXIT_USAGE;
    }
  for (int i = 1; i < argc; i++)
    if (!g_utf8_validate(argv[i], -1, NULL)) {
      fail("\"%s\" is not UTF-8 text", argv[i]);
      return EXIT_USAGE;
    }
  C.point = point;
  C.group = group;
  if (argc < 2) {
    fail("give a command (try --help)");
    return EXIT_USAGE;
  }
  const char *env_url = g_getenv("DIEMCAU_URL"), *env_key = g_getenv("DIEMCAU_KEY");
  if (!C.url && env_url && *env_url)
    C.url = g_strdup(env_url);
  if (!C.key && env_key && *env_key)
    C.key = g_strdup(env_key);
  if (!read_config())
    return EXIT_USAGE;
  if (!C.url || !C.key) {
    fail("which bridge, with which key? Give --url and --key, or set DIEMCAU_URL and DIEMCAU_KEY, or put "
         "url= and key= in the [ctl] group of ~/.config/diemcau/ctl.conf");
    return EXIT_USAGE;
  }
  while (g_str_has_suffix(C.url, "/"))
    C.url[strlen(C.url) - 1] = '\0';
  C.http = soup_session_new_with_options("timeout", 30, "user-agent", "diemcau-ctl/" DC_VERSION, NULL);
  if (C.ca) {
    GTlsDatabase *db = g_tls_file_database_new(C.ca, &err);
    if (!db) {
      fail("--ca %s: %s", C.ca, err->message);
      return EXIT_USAGE;
    }
    soup_session_set_tls_database(C.http, db);
    g_object_unref(db);
  }
  /* the bridge's clock: every time typed or shown is on it */
  JsonNode *who = NULL;
  int rc = request_json("GET", "/api/whoami", NULL, &who);
  if (rc)
    return rc;
  const char *zone = ctl_str(json_node_get_object(who), "time_zone");
  C.tz = g_time_zone_new_identifier(zone);
  if (!C.tz)
    C.tz = g_time_zone_new_local();
  ctl_zone = C.tz;
  const char *cmd = argv[1];
  if (!strcmp(cmd, "whoami"))
    C.json ? ctl_print_json(who) : whoami_line(who);
  else if (!strcmp(cmd, "points"))
    rc = cmd_points(argc - 1, argv + 1);
  else if (!strcmp(cmd, "groups"))
    rc = cmd_groups(argc - 1, argv + 1);
  else if (!strcmp(cmd, "meetings"))
    rc = cmd_meetings(argc - 1, argv + 1);
  else if (!strcmp(cmd, "invite"))
    rc = cmd_invite(argc - 1, argv + 1);
  else if (!strcmp(cmd, "revoke"))
    rc = cmd_revoke(argc - 1, argv + 1);
  else if (!strcmp(cmd, "attendance"))
    rc = cmd_attendance(argc - 1, argv + 1);
  else if (!strcmp(cmd, "keys"))
    rc = cmd_keys(argc - 1, argv + 1);
  else if (!strcmp(cmd, "audit")) {
    char *path = g_strdup_printf("/api/audit?limit=%d", C.limit);
    rc = show("GET", path, NULL, ctl_audit_table);
    g_free(path);
  } else if (!strcmp(cmd, "backup"))
    rc = cmd_backup(argc - 1, argv + 1);
  else {
    fail("unknown command \"%s\" (try --help)", cmd);
    rc = EXIT_USAGE;
  }
  json_node_unref(who);
  g_time_zone_unref(C.tz);
  g_object_unref(C.http);
  return rc;
}
