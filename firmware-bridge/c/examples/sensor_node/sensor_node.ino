// sensor_node — a tinyqa sensor firmware in one page: three analog inputs sent as SAMPLES frames
// over the USB serial port, commands from the gateway answered (firmware-bridge/PROTOCOL.md).
//
// Put tinyqa_bridge.h and tinyqa_bridge.c next to this file (or install them as a library).
// Needs about 300 bytes of RAM for the buffers below plus ~240 for the tqb_t state.

#include "tinyqa_bridge.h"

// What the gateway learns from HELLO (PROTOCOL §6): names, units, physical ranges.
static const tqb_channel_t CHANNELS[3] = {
    {"a0", "V", 0.0, 5.0},
    {"a1", "V", 0.0, 5.0},
    {"a2", "V", 0.0, 5.0},
};
// The commands this firmware implements; the library NACKs any other code with status 1.
static const uint8_t COMMANDS[] = {TQB_CMD_SET_RATE, TQB_CMD_RECALIBRATE, TQB_CMD_SWITCH_TO_BACKUP, TQB_CMD_REBOOT};

static const double DEFAULT_RATE_HZ = 50.0;
static const double MAX_RATE_HZ = 1000.0; // what analogRead of 3 pins can keep up with

static const int PRIMARY_PINS[3] = {A0, A1, A2};
static const int BACKUP_PINS[3] = {A3, A4, A5};

static tqb_t tqb;
// tx: tqb_tx_needed() of this configuration is 241 bytes; rx: commands and time syncs fit in 64.
static uint8_t txbuf[256];
static uint8_t rxbuf[64];

static int pins[3];
static float offsets[3];
static uint32_t period_us;
static uint32_t last_sample_us;

// tqb_write_fn: hand the frame bytes to the serial port (blocking is fine).
static int serial_write(void *user, const uint8_t *data, size_t len)
{
    (void)user;
    return Serial.write(data, len) == len ? 0 : -1;
}

static void reset_inputs()
{
    for (int i = 0; i < 3; i++) {
        pins[i] = PRIMARY_PINS[i];
        offsets[i] = 0.0f;
    }
}

// Replace with the sensor's own procedure; here: take the mean of 16 readings as the zero point.
static void recalibrate(int ch)
{
    long sum = 0;
    for (int i = 0; i < 16; i++) sum += analogRead(pins[ch]);
    offsets[ch] = (float)sum / 16.0f * 5.0f / 1023.0f;
}

static bool channel_arg(const tqb_command_t &cmd)
{
    return cmd.has_arg && cmd.arg >= 0 && cmd.arg < 3 && cmd.arg == (double)(int)cmd.arg;
}

static void handle(const tqb_command_t &cmd, uint32_t now)
{
    switch (cmd.code) {
    case TQB_CMD_SET_RATE:
        if (!cmd.has_arg || !(cmd.arg > 0 && cmd.arg <= MAX_RATE_HZ)) {
            tqb_ack(&tqb, cmd.id, TQB_ACK_BAD_ARGUMENT, "rate must be in (0, 1000]", now);
            return;
        }
        tqb_ack(&tqb, cmd.id, TQB_ACK_DONE, NULL, now);
        tqb_set_rate(&tqb, cmd.arg, now); // flushes old-rate samples, sends HELLO with the new rate
        period_us = (uint32_t)(1e6 / cmd.arg);
        return;
    case TQB_CMD_RECALIBRATE: // arg: channel index; absent = all
        if (!cmd.has_arg) {
            for (int i = 0; i < 3; i++) recalibrate(i);
        } else if (channel_arg(cmd)) {
            recalibrate((int)cmd.arg);
        } else {
            tqb_ack(&tqb, cmd.id, TQB_ACK_BAD_ARGUMENT, "no such channel", now);
            return;
        }
        tqb_ack(&tqb, cmd.id, TQB_ACK_DONE, NULL, now);
        return;
    case TQB_CMD_SWITCH_TO_BACKUP:
        if (!channel_arg(cmd)) {
            tqb_ack(&tqb, cmd.id, TQB_ACK_BAD_ARGUMENT, "no such channel", now);
            return;
        }
        pins[(int)cmd.arg] = BACKUP_PINS[(int)cmd.arg];
        tqb_ack(&tqb, cmd.id, TQB_ACK_DONE, NULL, now);
        return;
    case TQB_CMD_REBOOT:
        // PROTOCOL §6: ACK first. A soft restart (seq from 0, HELLO again) keeps the command memory,
        // so a retried REBOOT is re-ACKed instead of restarting twice. A hardware reset (watchdog)
        // would work too, at the cost of that guarantee.
        tqb_ack(&tqb, cmd.id, TQB_ACK_DONE, NULL, now);
        Serial.flush();
        reset_inputs();
        tqb_restart(&tqb, now);
        return;
    default:
        tqb_ack(&tqb, cmd.id, TQB_ACK_UNSUPPORTED, NULL, now);
        return;
    }
}

static const tqb_config_t CONFIG = {
    "sensor_node/1.0",   // fw
    "sensor-node-01",    // device id
    CHANNELS, 3,         // channels
    DEFAULT_RATE_HZ,     // rate_hz
    10,                  // batch: samples per SAMPLES frame
    1000,                // heartbeat_ms
    COMMANDS, sizeof COMMANDS,
    NULL,                // on_auto_ack
};

static bool bridge_ok;

void setup()
{
    Serial.begin(115200);
    pinMode(LED_BUILTIN, OUTPUT);
    reset_inputs();
    period_us = (uint32_t)(1e6 / DEFAULT_RATE_HZ);
    last_sample_us = micros();
    // Sends a lone 0x00 and HELLO. TQB_ERR_ARG means the config or a buffer is wrong (a write
    // error is not: the gateway may simply not be listening yet).
    bridge_ok = tqb_begin(&tqb, &CONFIG, txbuf, sizeof txbuf, rxbuf, sizeof rxbuf, serial_write, NULL, millis()) != TQB_ERR_ARG;
}

void loop()
{
    uint32_t now = millis();
    if (!bridge_ok) {
        digitalWrite(LED_BUILTIN, (now / 100) % 2); // fast blink: fix CONFIG or txbuf
        return;
    }

    // Bytes from the gateway; the library answers TIME_SYNC and repeated command ids itself.
    while (Serial.available() > 0) {
        uint8_t b = (uint8_t)Serial.read();
        tqb_rx_bytes(&tqb, &b, 1, now);
    }
    tqb_command_t cmd;
    while (tqb_poll_command(&tqb, &cmd)) handle(cmd, now);

    // One sample of all channels per period; SAMPLES goes out by itself every `batch` samples.
    if ((uint32_t)(micros() - last_sample_us) >= period_us) {
        last_sample_us += period_us;
        float v[3];
        for (int i = 0; i < 3; i++) v[i] = analogRead(pins[i]) * (5.0f / 1023.0f) - offsets[i];
        tqb_add_sample(&tqb, v, now);
    }

    // HELLO every 10 s, HEARTBEAT when nothing else was sent for heartbeat_ms.
    tqb_poll(&tqb, now);
}
