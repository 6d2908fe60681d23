//! Reports: consumers of the run's event stream (console, JUnit, transcript, pcap).
