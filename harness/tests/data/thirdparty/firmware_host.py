"""Plays a board's firmware over pyserial: joins Wi-Fi, opens TCP to the cloud host, sends an
MQTT CONNECT with AT+CIPSEND and waits for the CONNACK to come back as `+IPD`.

usage: firmware_host.py PORT SSID HOST PORTNUM CONNECT_HEX   (password in ATHIL_WIFI_PASSWORD)
Prints one line per step, `<step>: <HEX>`, then `ipd: <HEX>`, the `+IPD` frame alone.
"""

import sys

import atport

IPD = b"\r\n+IPD,"


def ipd_frame(got):
    """The first complete `\\r\\n+IPD,<n>:<n bytes>` in `got`, or None while incomplete."""
    start = got.find(IPD)
    if start < 0:
        return None
    colon = got.find(b":", start)
    if colon < 0:
        return None
    try:
        n = int(got[start + len(IPD):colon])
    except ValueError:
        print("bad +IPD length in %s" % atport.hex_of(got))
        sys.exit(1)
    end = colon + 1 + n
    return got[start:end] if len(got) >= end else None


def step(port, name, text, done, what):
    port.write(atport.command(text))
    reply = atport.read_until(port, done, what)
    print("%s: %s" % (name, atport.hex_of(reply)), flush=True)
    return reply


def main():
    path, ssid, host, portnum, connect_hex = sys.argv[1:6]
    connect = bytes.fromhex(connect_hex)
    with atport.open_port(path) as port:
        step(port, "ate0", "ATE0", atport.final_result, "OK to ATE0")
        join = 'AT+CWJAP="%s","<password>"' % ssid
        step(port, "cwjap", join, atport.final_result, "result of AT+CWJAP")
        start = 'AT+CIPSTART="TCP","%s",%s' % (host, portnum)
        step(port, "cipstart", start, atport.final_result, "result of AT+CIPSTART")
        prompt = lambda got: got.endswith(b"> ") or got.endswith(b"ERROR\r\n")
        step(port, "cipsend", "AT+CIPSEND=%d" % len(connect), prompt, "> prompt")
        # The CONNACK may overtake SEND OK on the wire; wait for both.
        port.write(connect)
        after = atport.read_until(
            port,
            lambda got: b"SEND OK\r\n" in got and ipd_frame(got) is not None,
            "SEND OK and +IPD carrying the CONNACK",
        )
        print("data: %s" % atport.hex_of(after), flush=True)
        print("ipd: %s" % atport.hex_of(ipd_frame(after)), flush=True)


if __name__ == "__main__":
    main()
