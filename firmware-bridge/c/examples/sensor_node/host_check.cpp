// Compiles sensor_node.ino on the host against a minimal Arduino stand-in (simulated clock, a
// Serial that records what the sketch writes, analogRead of a fixed pattern), then drives it the
// way a gateway would and checks what comes back. Not an Arduino emulator: just enough to know the
// sketch builds and answers commands as PROTOCOL §6 says.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <deque>
#include <vector>

// ---------------------------------------------------------------- the Arduino stand-in
enum { A0 = 14, A1, A2, A3, A4, A5 };
static const int LED_BUILTIN = 13, OUTPUT = 1;
static uint64_t g_us;
static uint32_t millis() { return (uint32_t)(g_us / 1000); }
static uint32_t micros() { return (uint32_t)g_us; }
static int analogRead(int pin) { return (pin * 37 + (int)(g_us / 1000)) % 1024; }
static void pinMode(int, int) {}
static void digitalWrite(int, int) {}

struct FakeSerial {
    std::deque<uint8_t> in;
    std::vector<uint8_t> out;
    void begin(long) {}
    size_t write(const uint8_t *d, size_t n) { out.insert(out.end(), d, d + n); return n; }
    int available() { return (int)in.size(); }
    int read() { int b = in.front(); in.pop_front(); return b; }
    void flush() {}
};
static FakeSerial Serial;

#include "sensor_node.ino"

// ---------------------------------------------------------------- the gateway side
static int failures;
#define EXPECT(cond, ...)                                                                                              \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            failures++;                                                                                                \
            fprintf(stderr, "host_check FAIL line %d: ", __LINE__);                                                   \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

static void run_ms(uint32_t ms)
{
    for (uint32_t i = 0; i < ms * 10; i++) {
        g_us += 100;
        loop();
    }
}

static void send_command(uint16_t seq, uint32_t id, uint8_t code, bool has_arg, double arg)
{
    tqb_message_t m;
    tqb_header_t h = {1, 0, 0, seq, 0};
    uint8_t wire[64];
    size_t n = 0;
    memset(&m, 0, sizeof m);
    m.type = TQB_COMMAND;
    m.u.command.id = id;
    m.u.command.code = code;
    m.u.command.has_arg = has_arg;
    m.u.command.arg = arg;
    tqb_encode_frame(&h, &m, wire, sizeof wire, &n);
    Serial.in.insert(Serial.in.end(), wire, wire + n);
}

struct Seen {
    int hellos = 0, samples = 0, acks = 0, heartbeats = 0;
    double last_rate = 0;
    uint16_t last_hello_seq = 0xFFFF;
    std::vector<uint32_t> ack_ids;
    std::vector<int> ack_status;
};

// Decodes all the sketch wrote since the last call.
static Seen drain()
{
    static uint8_t rxbuf[TQB_RX_BUF_MAX];
    tqb_rx_t rx;
    Seen s;
    tqb_rx_init(&rx, rxbuf, sizeof rxbuf);
    size_t off = 0;
    while (off < Serial.out.size()) {
        tqb_rx_event_t ev;
        off += tqb_rx_feed(&rx, Serial.out.data() + off, Serial.out.size() - off, &ev);
        EXPECT(ev.discard_err == TQB_OK, "the sketch wrote bytes that are no frame (%s)", tqb_err_name(ev.discard_err));
        if (!ev.got_frame || ev.msg_err != TQB_OK) continue;
        const tqb_message_t &m = ev.frame.msg;
        if (m.type == TQB_HELLO) {
            s.hellos++;
            s.last_rate = m.u.hello.rate_hz;
            s.last_hello_seq = ev.frame.hdr.seq;
        } else if (m.type == TQB_SAMPLES) {
            s.samples++;
            EXPECT(m.u.samples.channels == 3 && m.u.samples.n_values % 3 == 0, "samples shape");
        } else if (m.type == TQB_HEARTBEAT) {
            s.heartbeats++;
        } else if (m.type == TQB_ACK) {
            s.acks++;
            s.ack_ids.push_back(m.u.ack.id);
            s.ack_status.push_back(m.u.ack.status);
        }
    }
    Serial.out.clear();
    return s;
}

static int status_of(const Seen &s, uint32_t id)
{
    for (size_t i = 0; i < s.ack_ids.size(); i++)
        if (s.ack_ids[i] == id) return s.ack_status[i];
    return -1;
}

int main()
{
    EXPECT(tqb_tx_needed(&CONFIG) > 0 && tqb_tx_needed(&CONFIG) <= sizeof txbuf, "txbuf %u bytes, config needs %u",
           (unsigned)sizeof txbuf, (unsigned)tqb_tx_needed(&CONFIG));
    setup();
    EXPECT(bridge_ok, "tqb_begin accepted the sketch's configuration");
    run_ms(1000);
    Seen s = drain();
    EXPECT(s.hellos == 1 && s.samples == 5, "first second: %d HELLO, %d SAMPLES (want 1, 5)", s.hellos, s.samples);

    send_command(0, 1, TQB_CMD_SET_RATE, true, 25);
    run_ms(1000);
    s = drain();
    EXPECT(s.acks == 1 && s.ack_ids[0] == 1 && s.ack_status[0] == 0, "SET_RATE acknowledged");
    EXPECT(s.hellos == 1 && s.last_rate == 25, "HELLO with the new rate (%g)", s.last_rate);
    EXPECT(s.samples >= 2 && s.samples <= 4, "about 2.5 batches at 25 Hz, got %d", s.samples);

    send_command(1, 2, TQB_CMD_SET_RATE, true, 5000);
    send_command(2, 3, TQB_CMD_SWITCH_TO_BACKUP, true, 7);
    send_command(3, 4, TQB_CMD_RECALIBRATE, false, 0);
    send_command(4, 5, 9, false, 0);
    run_ms(50);
    s = drain();
    // The library NACKs the unknown code as soon as it arrives; the sketch answers the others.
    EXPECT(s.acks == 4, "four answers, got %d", s.acks);
    EXPECT(status_of(s, 2) == TQB_ACK_BAD_ARGUMENT && status_of(s, 3) == TQB_ACK_BAD_ARGUMENT, "bad arguments");
    EXPECT(status_of(s, 4) == TQB_ACK_DONE, "recalibrate all");
    EXPECT(status_of(s, 5) == TQB_ACK_UNSUPPORTED, "unknown code NACKed with 1");

    send_command(5, 6, TQB_CMD_REBOOT, false, 0);
    run_ms(10);
    send_command(6, 6, TQB_CMD_REBOOT, false, 0); // the retry of a REBOOT whose ACK was lost
    run_ms(10);
    s = drain();
    EXPECT(s.acks == 2 && s.ack_ids[0] == 6 && s.ack_ids[1] == 6, "REBOOT ACKed, retry re-ACKed");
    EXPECT(s.hellos == 1 && s.last_hello_seq == 0, "one restart: HELLO with seq 0 (%d HELLO)", s.hellos);

    run_ms(3000);
    s = drain();
    EXPECT(s.heartbeats == 0 && s.samples > 0, "samples keep flowing, no heartbeat needed");
    printf("sensor_node host check: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
