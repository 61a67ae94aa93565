/*
 * fake_node — plays a sensor firmware over a real pseudo-terminal, through the same tqb API a
 * microcontroller sketch uses (../tinyqa_bridge.h). A host opens the printed follower path as its
 * serial port.
 *
 *   fake_node [--device ID] [--channels a,b,c] [--unit V] [--min 0] [--max 5] [--fw TEXT]
 *             [--rate HZ] [--batch N] [--seconds S] [--heartbeat-ms MS] [--commands 1,2,3,4]
 *             [--seed N]
 *
 * stdout: first "PTY <follower path>", then one line per new command received:
 *   CMD id=<id> code=<code> arg=<%.9g or -> status=<status>
 * (a retried id that is only re-ACKed prints nothing: it is the same command). Diagnostics go to
 * stderr. SIGTERM/SIGINT: flush buffered samples, exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../tinyqa_bridge.h"

#define PI 3.14159265358979323846

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct {
    int leader, follower;
    unsigned long long write_drops;
} node_t;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts;
    if (s <= 0) return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL); /* EINTR (a signal) just ends the nap early */
}

/* tqb_write_fn: all bytes to the leader. EAGAIN/EIO are retried; when nothing drains the follower
 * for a while, the bytes waiting there are discarded, as a UART with no listener loses them — a
 * device must never stall because no host is reading. */
static int pty_write(void *user, const uint8_t *data, size_t len)
{
    node_t *n = user;
    size_t off = 0;
    int waits = 0;
    while (off < len) {
        ssize_t w = write(n->leader, data + off, len - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EIO)) {
            waits++;
            if (waits % 50 == 0) {
                tcflush(n->follower, TCIFLUSH);
                n->write_drops++;
            }
            if (waits > 500) return -1;
            sleep_s(0.001);
            continue;
        }
        return -1;
    }
    return 0;
}

/* Fixed-seed xorshift32: the same run gives the same "sensor" values. */
static uint32_t g_rng = 0x2545F491u;
static double noise(void)
{
    double s = 0;
    int i;
    for (i = 0; i < 4; i++) {
        g_rng ^= g_rng << 13;
        g_rng ^= g_rng >> 17;
        g_rng ^= g_rng << 5;
        s += (double)(g_rng & 0xFFFFFF) / 16777216.0 - 0.5;
    }
    return s / 2.0; /* about N(0, 0.29^2 / 2) */
}

static int split_list(char *s, const char **items, int max)
{
    int n = 0;
    char *tok = strtok(s, ",");
    while (tok && n < max) {
        if (*tok) items[n++] = tok;
        tok = strtok(NULL, ",");
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: fake_node [--device ID] [--channels a,b,c] [--unit V] [--min 0] [--max 5] [--fw TEXT]\n"
                    "                 [--rate HZ] [--batch N] [--seconds S] [--heartbeat-ms MS]\n"
                    "                 [--commands 1,2,3,4] [--seed N]\n");
}

static const char *g_cmd_names[] = {"?", "SET_RATE", "RECALIBRATE", "SWITCH_TO_BACKUP", "REBOOT"};

static void print_cmd(const tqb_command_t *c, unsigned status)
{
    char arg[40];
    if (c->has_arg)
        snprintf(arg, sizeof arg, "%.9g", c->arg);
    else
        snprintf(arg, sizeof arg, "-");
    printf("CMD id=%lu code=%u arg=%s status=%u\n", (unsigned long)c->id, (unsigned)c->code, arg, status);
    fflush(stdout);
}

/* Commands the library answered itself: an unsupported code (NACK 1), or a retried id. */
static void on_auto_ack(void *user, const tqb_command_t *c, uint8_t status, int repeat)
{
    (void)user;
    if (repeat) {
        fprintf(stderr, "fake_node: retry of command %lu re-ACKed with status %u\n", (unsigned long)c->id, status);
        return;
    }
    print_cmd(c, status);
}

int main(int argc, char **argv)
{
    const char *device = "c-node-01", *unit = "V", *fw = "fake_node/1.0 (tinyqa C reference)";
    char chan_arg[1024] = "a,b,c", cmd_arg[256] = "1,2,3,4";
    const char *names[TQB_MAX_CHANNELS], *cmd_items[TQB_MAX_COMMANDS];
    tqb_channel_t channels[TQB_MAX_CHANNELS];
    uint8_t commands[TQB_MAX_COMMANDS];
    double vmin = 0, vmax = 5, rate = 100, seconds = 10;
    long batch = 10, heartbeat = 500;
    int n_channels, n_commands, i;
    tqb_config_t cfg;
    tqb_t t;
    static uint8_t txbuf[2 * TQB_TX_BUF_MAX], rxbuf[TQB_RX_BUF_MAX];
    node_t node;
    struct termios tio;
    struct sigaction sa;
    char *follower_path;
    double boot, start, next_sample, period;
    unsigned long long sample_no = 0;
    tqb_err_t e;

    for (i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = NULL, *eq = strchr(opt, '=');
        char key[64];
        if (strncmp(opt, "--", 2) != 0) {
            usage();
            return 2;
        }
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - opt), opt);
            val = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", opt);
            if (!strcmp(key, "--help")) {
                usage();
                return 0;
            }
            if (i + 1 >= argc) {
                usage();
                return 2;
            }
            val = argv[++i];
        }
        if (!strcmp(key, "--device")) device = val;
        else if (!strcmp(key, "--channels")) snprintf(chan_arg, sizeof chan_arg, "%s", val);
        else if (!strcmp(key, "--unit")) unit = val;
        else if (!strcmp(key, "--min")) vmin = atof(val);
        else if (!strcmp(key, "--max")) vmax = atof(val);
        else if (!strcmp(key, "--fw")) fw = val;
        else if (!strcmp(key, "--rate")) rate = atof(val);
        else if (!strcmp(key, "--batch")) batch = atol(val);
        else if (!strcmp(key, "--seconds")) seconds = atof(val);
        else if (!strcmp(key, "--heartbeat-ms")) heartbeat = atol(val);
        else if (!strcmp(key, "--commands")) snprintf(cmd_arg, sizeof cmd_arg, "%s", val);
        else if (!strcmp(key, "--seed")) g_rng = (uint32_t)strtoul(val, NULL, 0) | 1u;
        else {
            usage();
            return 2;
        }
    }
    n_channels = split_list(chan_arg, names, TQB_MAX_CHANNELS);
    for (i = 0; i < n_channels; i++) {
        channels[i].name = names[i];
        channels[i].unit = unit;
        channels[i].min = vmin;
        channels[i].max = vmax;
    }
    n_commands = split_list(cmd_arg, cmd_items, TQB_MAX_COMMANDS);
    for (i = 0; i < n_commands; i++) commands[i] = (uint8_t)atoi(cmd_items[i]);
    if (rate > 10000 || batch < 1 || batch > 65535 || heartbeat < 1 || seconds < 0) {
        fprintf(stderr, "fake_node: rate must be in (0, 10000], batch in 1..65535, heartbeat-ms > 0, seconds >= 0\n");
        return 2;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.fw = fw;
    cfg.device_id = device;
    cfg.channels = channels;
    cfg.n_channels = (uint8_t)n_channels;
    cfg.rate_hz = rate;
    cfg.batch = (uint16_t)batch;
    cfg.heartbeat_ms = (uint32_t)heartbeat;
    cfg.commands = commands;
    cfg.n_commands = (uint8_t)n_commands;
    cfg.on_auto_ack = on_auto_ack;
    if (tqb_tx_needed(&cfg) == 0 || tqb_tx_needed(&cfg) > sizeof txbuf) {
        fprintf(stderr, "fake_node: invalid configuration (names [A-Za-z0-9_.-]{1,64}, unique; 1..32 channels; "
                        "min < max; batch x channels x 4 bytes within one 2048-byte frame)\n");
        return 2;
    }

    /* The pty pair. Keeping our own follower fd open means the leader never reads EIO/hangup when
     * the host closes or reopens the port — like a USB device that stays plugged in. */
    node.leader = posix_openpt(O_RDWR | O_NOCTTY);
    if (node.leader < 0 || grantpt(node.leader) != 0 || unlockpt(node.leader) != 0 ||
        (follower_path = ptsname(node.leader)) == NULL) {
        perror("fake_node: pty");
        return 1;
    }
    node.follower = open(follower_path, O_RDWR | O_NOCTTY);
    if (node.follower < 0 || tcgetattr(node.follower, &tio) != 0) {
        perror("fake_node: follower");
        return 1;
    }
    /* Raw: no echo, no line editing, no CR/LF translation — frames are arbitrary bytes. */
    cfmakeraw(&tio);
    if (tcsetattr(node.follower, TCSANOW, &tio) != 0) {
        perror("fake_node: tcsetattr");
        return 1;
    }
    fcntl(node.leader, F_SETFL, fcntl(node.leader, F_GETFL) | O_NONBLOCK);
    node.write_drops = 0;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    printf("PTY %s\n", follower_path);
    fflush(stdout);

    start = boot = mono_s();
    e = tqb_begin(&t, &cfg, txbuf, sizeof txbuf, rxbuf, sizeof rxbuf, pty_write, &node, 0);
    if (e != TQB_OK && e != TQB_ERR_WRITE) {
        fprintf(stderr, "fake_node: tqb_begin: %s\n", tqb_err_name(e));
        return 1;
    }
    period = 1.0 / rate;
    next_sample = boot;

    while (!g_stop) {
        double now = mono_s();
        uint32_t now_ms = (uint32_t)(unsigned long long)((now - boot) * 1000.0);
        uint8_t in[512];
        ssize_t got;
        tqb_command_t cmd;

        if (seconds > 0 && now - start >= seconds) break;

        /* Host bytes: non-blocking, whatever has arrived. */
        while ((got = read(node.leader, in, sizeof in)) > 0) tqb_rx_bytes(&t, in, (size_t)got, now_ms);

        while (tqb_poll_command(&t, &cmd)) {
            unsigned status = TQB_ACK_DONE;
            const char *detail = NULL;
            int reboot = 0;
            switch (cmd.code) {
            case TQB_CMD_SET_RATE:
                if (!cmd.has_arg || !(cmd.arg > 0 && cmd.arg <= 10000)) {
                    status = TQB_ACK_BAD_ARGUMENT;
                    detail = "rate must be in (0, 10000] samples per second";
                }
                break;
            case TQB_CMD_RECALIBRATE:
                if (cmd.has_arg && !(cmd.arg >= 0 && cmd.arg < n_channels && cmd.arg == (double)(int)cmd.arg)) {
                    status = TQB_ACK_BAD_ARGUMENT;
                    detail = "no such channel";
                }
                break;
            case TQB_CMD_SWITCH_TO_BACKUP:
                if (!cmd.has_arg || !(cmd.arg >= 0 && cmd.arg < n_channels && cmd.arg == (double)(int)cmd.arg)) {
                    status = TQB_ACK_BAD_ARGUMENT;
                    detail = "no such channel";
                }
                break;
            case TQB_CMD_REBOOT:
                reboot = 1;
                break;
            default:
                /* Advertised with --commands but not something this node can do. */
                status = TQB_ACK_UNSUPPORTED;
                break;
            }
            print_cmd(&cmd, status);
            /* PROTOCOL §6: the ACK goes out before the reboot. */
            tqb_ack(&t, cmd.id, (uint8_t)status, detail, now_ms);
            if (status == TQB_ACK_DONE && cmd.code == TQB_CMD_SET_RATE) {
                tqb_set_rate(&t, cmd.arg, now_ms);
                period = 1.0 / cmd.arg;
                next_sample = now;
            }
            if (status == TQB_ACK_DONE && cmd.code < sizeof g_cmd_names / sizeof g_cmd_names[0])
                fprintf(stderr, "fake_node: %s done\n", g_cmd_names[cmd.code]);
            if (reboot) {
                /* A soft restart: clock and seq from 0, 0x00 and HELLO again; the command memory
                 * survives, so a retried REBOOT is re-ACKed and not executed twice. */
                boot = mono_s();
                now_ms = 0;
                next_sample = boot;
                tqb_restart(&t, 0);
            }
        }

        /* Samples due: sine + noise per channel, NaN never (every reading present). */
        if (now - next_sample > 1.0) next_sample = now; /* stalled (suspended?): do not burst */
        while (next_sample <= now) {
            float v[TQB_MAX_CHANNELS];
            double ts = next_sample - boot, mid = (vmin + vmax) / 2, amp = (vmax - vmin) * 0.35;
            for (i = 0; i < n_channels; i++)
                v[i] = (float)(mid + amp * sin(2 * PI * (0.2 + 0.1 * i) * ts + i) + (vmax - vmin) * 0.02 * noise());
            tqb_add_sample(&t, v, (uint32_t)(unsigned long long)(ts * 1000.0));
            sample_no++;
            next_sample += period;
        }

        tqb_poll(&t, now_ms);

        {
            /* Sleep to the next sample, but at most 5 ms so commands are answered promptly. */
            double wait = next_sample - mono_s();
            sleep_s(wait > 0.005 ? 0.005 : wait);
        }
    }
    tqb_flush(&t, (uint32_t)(unsigned long long)((mono_s() - boot) * 1000.0));
    fprintf(stderr, "fake_node: %llu samples, %lu frames sent, %lu write errors, %llu flushes of an unread port\n",
            sample_no, (unsigned long)t.stats.frames_sent, (unsigned long)t.stats.write_errors, node.write_drops);
    /* Give a reader a moment to take the last frames before the pty disappears. */
    sleep_s(0.05);
    close(node.follower);
    close(node.leader);
    return 0;
}
