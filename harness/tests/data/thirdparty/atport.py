"""The serial-terminal half of athil's third-party tests: pyserial on the simulator's pty.

Every read has a deadline. Wi-Fi passwords reach the scripts through the environment
(ATHIL_WIFI_PASSWORD), are written into commands where `<password>` stands, and are masked
back to `<password>` in everything printed, so no log carries them.
"""

import os
import sys
import time

import serial

PLACEHOLDER = b"<password>"


def password():
    return os.environ.get("ATHIL_WIFI_PASSWORD", "").encode()


def masked(data):
    """The bytes with the Wi-Fi password replaced by `<password>`."""
    secret = password()
    return data.replace(secret, PLACEHOLDER) if secret else data


def hex_of(data):
    """Upper case, space separated, as the seeds write hex."""
    return " ".join("%02X" % b for b in masked(data))


def open_port(path):
    # A short timeout per read call; the deadline lives in read_until.
    return serial.Serial(path, 115200, timeout=0.02)


def command(text):
    """`AT...` as typed, with the password put in and CR LF appended."""
    return text.encode().replace(PLACEHOLDER, password()) + b"\r\n"


def read_until(port, done, what, within=3.0):
    """Reads until `done(bytes so far)` holds; exits 1 naming `what` past the deadline."""
    got = b""
    deadline = time.monotonic() + within
    while not done(got):
        if time.monotonic() >= deadline:
            print("timeout: no %s within %.1f s; got %s" % (what, within, hex_of(got)))
            sys.exit(1)
        got += port.read(256)
    return got


def final_result(got):
    """An AT command's reply is over at OK, ERROR or FAIL on a line of its own."""
    return any(got.endswith(end) for end in (b"\nOK\r\n", b"\nERROR\r\n", b"\nFAIL\r\n"))
