/* A minimal INDI flood driver in C, so the server benchmarks measure the servers.
 *
 * Device "bench": "counter" (number, ro), "FLOOD" (number COUNT: asking for N
 * sends N counter updates as fast as the pipe takes them), "toggle" (switch,
 * answered at once). It understands just enough of the stream for that:
 * getProperties, newNumberVector FLOOD, newSwitchVector toggle. Built by
 * bench/run.sh with the system C compiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char out[1 << 20];
static size_t used;

static void flush_out(void) {
    size_t off = 0;
    while (off < used) {
        ssize_t n = write(1, out + off, used - off);
        if (n <= 0) exit(0);
        off += (size_t)n;
    }
    used = 0;
}

static void put(const char *s, size_t len) {
    if (used + len > sizeof out) flush_out();
    memcpy(out + used, s, len);
    used += len;
}

static void defs(void) {
    static const char d[] =
        "<defNumberVector device=\"bench\" name=\"counter\" label=\"Counter\" group=\"Main\" "
        "state=\"Ok\" perm=\"ro\"><defNumber name=\"value\" label=\"Value\" format=\"%.0f\" "
        "min=\"0\" max=\"0\" step=\"0\">0</defNumber></defNumberVector>\n"
        "<defNumberVector device=\"bench\" name=\"FLOOD\" label=\"Flood\" group=\"Main\" "
        "state=\"Ok\" perm=\"rw\" timeout=\"0\"><defNumber name=\"COUNT\" label=\"Count\" "
        "format=\"%.0f\" min=\"0\" max=\"0\" step=\"0\">0</defNumber></defNumberVector>\n"
        "<defSwitchVector device=\"bench\" name=\"toggle\" label=\"Toggle\" group=\"Main\" "
        "state=\"Ok\" perm=\"rw\" rule=\"AnyOfMany\" timeout=\"0\"><defSwitch name=\"T\" "
        "label=\"T\">Off</defSwitch></defSwitchVector>\n";
    put(d, sizeof d - 1);
    flush_out();
}

int main(void) {
    static char in[1 << 16];
    size_t have = 0;
    char msg[256];
    for (;;) {
        ssize_t n = read(0, in + have, sizeof in - 1 - have);
        if (n <= 0) return 0;
        have += (size_t)n;
        in[have] = 0;
        char *p = in;
        for (;;) {
            char *end = strchr(p, '\n');
            char *close = NULL;
            char *g = strstr(p, "<getProperties");
            char *f = strstr(p, "</newNumberVector>");
            char *t = strstr(p, "</newSwitchVector>");
            /* Handle the earliest complete request. */
            char *first = NULL;
            int kind = 0;
            if (g && (close = strstr(g, ">")) != NULL) { first = g; kind = 1; }
            if (f && (!first || f < first)) { first = f; kind = 2; }
            if (t && (!first || t < first)) { first = t; kind = 3; }
            (void)end;
            if (!first) break;
            if (kind == 1) {
                defs();
                p = close + 1;
            } else if (kind == 2) {
                char *c = strstr(p, "name=\"COUNT\"");
                if (!c) c = strstr(p, "name='COUNT'");
                long count = 0;
                if (c && c < first) {
                    char *v = strchr(c, '>');
                    if (v) count = strtol(v + 1, NULL, 10);
                }
                for (long i = 0; i < count; i++) {
                    int len = snprintf(msg, sizeof msg,
                        "<setNumberVector device=\"bench\" name=\"counter\" state=\"Ok\">"
                        "<oneNumber name=\"value\">%ld</oneNumber></setNumberVector>\n", i);
                    put(msg, (size_t)len);
                }
                static const char ok[] =
                    "<setNumberVector device=\"bench\" name=\"FLOOD\" state=\"Ok\"/>\n";
                put(ok, sizeof ok - 1);
                flush_out();
                p = first + strlen("</newNumberVector>");
            } else {
                int on = strstr(p, ">On<") != NULL && strstr(p, ">On<") < first;
                int len = snprintf(msg, sizeof msg,
                    "<setSwitchVector device=\"bench\" name=\"toggle\" state=\"Ok\">"
                    "<oneSwitch name=\"T\">%s</oneSwitch></setSwitchVector>\n", on ? "On" : "Off");
                put(msg, (size_t)len);
                flush_out();
                p = first + strlen("</newSwitchVector>");
            }
        }
        have = strlen(p);
        memmove(in, p, have);
        if (have >= sizeof in - 1) have = 0; /* garbage: drop it */
    }
}
