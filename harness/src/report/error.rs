//! What can go wrong writing reports ([`ReportError`]). Each message reads after "failed to";
//! none of them stops the run, except being unable to create the report directory at all.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("create the report directory `{path}`")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write the transcript `{path}`")]
    Transcript {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write the pcap `{path}`")]
    Pcap {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write the JUnit report `{path}`")]
    Junit {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write to the console")]
    Console {
        #[source]
        source: io::Error,
    },
}
