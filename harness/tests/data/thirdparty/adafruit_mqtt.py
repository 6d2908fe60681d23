"""Adafruit's CircuitPython ESP AT driver (adafruit-circuitpython-esp-atcontrol), unmodified,
on CPython with a pyserial port as its UART, playing a board's firmware against `athil sim`:
begin, soft reset, join, a TCP socket to the cloud host, then MQTT CONNECT, PINGREQ,
SUBSCRIBE and DISCONNECT through the library's socket_send / socket_receive.

usage: adafruit_mqtt.py PORT SSID HOST CONNECT_HEX SUBSCRIBE_HEX [--use-cipstatus]
The Wi-Fi password comes from ATHIL_WIFI_PASSWORD and is never printed. Prints one
`<name>: <value>` line per step; exits 1 with `failed: <why>` on the first step that fails.
"""

import os
import sys
import types

import serial

# The shim: the library imports `digitalio` for its optional reset and RTS pins. Under CPython
# Adafruit's Blinka provides it (installed with the library); where Blinka cannot load, a stand-
# in with the two names is enough, since we give the driver no pins at all.
try:
    import digitalio  # noqa: F401
except (ImportError, NotImplementedError, RuntimeError):
    stub = types.ModuleType("digitalio")
    stub.DigitalInOut = object
    stub.Direction = types.SimpleNamespace(INPUT=0, OUTPUT=1)
    sys.modules["digitalio"] = stub

from adafruit_espatcontrol.adafruit_espatcontrol import ESP_ATcontrol  # noqa: E402


class BoardUart:
    """pyserial's port presented as CircuitPython's busio.UART, which the library was written
    for. Everything passes straight through but one thing: on a board the UART fills its buffer
    a byte at a time at the wire rate (87 us a byte at 115200), so a driver loop polling faster
    than that sees the module's lines arrive one after the other, while a pty hands over all
    that has piled up at once. `in_waiting` therefore counts only up to the end of the next
    line. The library's send loop relies on that: it stops reading when what it read so far
    ends in `SEND OK\r\n`, and swallows whatever came with it. It still swallows a `+IPD`
    that comes before `SEND OK`, as it would on a board."""

    def __init__(self, port):
        self._port = port
        self._buffer = bytearray()

    @property
    def baudrate(self):
        return self._port.baudrate

    @baudrate.setter
    def baudrate(self, rate):
        self._port.baudrate = rate

    @property
    def in_waiting(self):
        waiting = self._port.in_waiting
        if waiting:
            self._buffer += self._port.read(waiting)
        end = self._buffer.find(b"\n")
        return len(self._buffer) if end < 0 else end + 1

    def read(self, n):
        if not self._buffer:
            self.in_waiting
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def write(self, data):
        return self._port.write(data)

    def reset_input_buffer(self):
        self._buffer.clear()
        self._port.reset_input_buffer()


def hex_of(data):
    return " ".join("%02X" % b for b in data)


def fail(why):
    print("failed: %s" % why, flush=True)
    sys.exit(1)


def exchange(esp, name, packet):
    """Sends one MQTT packet with socket_send and prints what socket_receive returned."""
    esp.socket_send(packet)
    reply = esp.socket_receive(timeout=3)
    print("%s: %s" % (name, hex_of(reply)), flush=True)
    return reply


def main():
    path, ssid, host, connect_hex, subscribe_hex = sys.argv[1:6]
    use_cipstatus = "--use-cipstatus" in sys.argv[6:]
    password = os.environ["ATHIL_WIFI_PASSWORD"]
    # pyserial's Serial has every method the driver uses of busio.UART (baudrate, in_waiting,
    # read, write, reset_input_buffer); BoardUart only gives in_waiting a board's pace.
    uart = BoardUart(serial.Serial(path, 115200, timeout=1))
    debug = bool(os.environ.get("ATHIL_ADAFRUIT_DEBUG"))
    esp = ESP_ATcontrol(uart, 115200, use_cipstatus=use_cipstatus, debug=debug)

    esp.begin()
    if not esp._initialized:  # begin() swallows its OKErrors and gives up after 3 tries
        fail("begin() did not finish")
    print("version: %s" % esp.version, flush=True)
    print("cipstatus: %s" % esp._use_cipstatus, flush=True)
    if not esp.soft_reset():
        fail("soft_reset()")
    print("reset: ok", flush=True)

    try:
        esp.connect({"ssid": ssid, "password": password})
    except Exception as e:  # the library raises OKError or RuntimeError
        fail("connect(): %s: %s" % (type(e).__name__, e))
    print("ip: %s" % esp.local_ip, flush=True)
    print("ping: %s" % esp.ping(host), flush=True)

    if not esp.socket_connect(ESP_ATcontrol.TYPE_TCP, host, 1883, keepalive=60):
        fail("socket_connect()")
    print("socket: open", flush=True)
    exchange(esp, "connack", bytes.fromhex(connect_hex))
    exchange(esp, "pingresp", bytes.fromhex("C0 00"))
    exchange(esp, "suback", bytes.fromhex(subscribe_hex))
    # DISCONNECT has no reply: the broker closes, the module prints CLOSED.
    esp.socket_send(bytes.fromhex("E0 00"))
    esp.socket_disconnect()
    print("status: %s" % esp.status, flush=True)
    print("done: ok", flush=True)


if __name__ == "__main__":
    main()
