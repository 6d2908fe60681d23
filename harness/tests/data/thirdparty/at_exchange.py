"""Types each AT command given on the command line into a serial port and prints the reply.

usage: at_exchange.py PORT COMMAND...   (COMMAND without CR LF; `<password>` is filled in
from ATHIL_WIFI_PASSWORD). Prints one line per command: `reply <i>: <HEX>`.
"""

import sys

import atport


def main():
    path, commands = sys.argv[1], sys.argv[2:]
    with atport.open_port(path) as port:
        for i, text in enumerate(commands):
            port.write(atport.command(text))
            reply = atport.read_until(port, atport.final_result, "final result for %r" % text)
            print("reply %d: %s" % (i, atport.hex_of(reply)), flush=True)


if __name__ == "__main__":
    main()
