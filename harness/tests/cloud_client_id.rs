//! Alibaba Cloud client ids as the SDKs and the seeds send them (aliyun-onenet.md §1.2, §2.2),
//! and malformed ones with the exact problem named.

use athil::cloud::{ClientIdParams, ClientIdProblem, SignMethod};
use rstest::rstest;

fn others(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn python_sdk_form() {
    let p = ClientIdParams::parse(
        "a1TestPK001&probe-dev-01|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,\
         _v=1.2.13,timestamp=1795293157|",
    )
    .unwrap();
    assert_eq!(p.head, "a1TestPK001&probe-dev-01");
    assert_eq!(p.securemode, Some(3));
    assert_eq!(p.signmethod, Some(SignMethod::HmacSha1));
    assert_eq!(p.timestamp.as_deref(), Some("1795293157"));
    assert_eq!(
        p.others,
        others(&[
            ("ext", "1"),
            ("_ss", "1"),
            ("lan", "Python"),
            ("_v", "1.2.13")
        ])
    );
    assert_eq!(p.other("lan"), Some("Python"));
    assert!(!p.trailing_comma);
}

#[test]
fn python_sdk_form_with_sii() {
    let p = ClientIdParams::parse(
        "pk&dn|securemode=2,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,_v=1.2.13,sii=wifi,\
         timestamp=1700000000|",
    )
    .unwrap();
    assert_eq!(p.securemode, Some(2));
    assert_eq!(p.other("sii"), Some("wifi"));
}

#[test]
fn c_sdk_v3_form() {
    let p = ClientIdParams::parse(
        "a1pk.dev|timestamp=2524608000000,_v=sdk-c-3.0.1,securemode=3,signmethod=hmacsha256,\
         lan=C,gw=0,ext=0|",
    )
    .unwrap();
    assert_eq!(p.head, "a1pk.dev");
    assert_eq!(p.timestamp.as_deref(), Some("2524608000000"));
    assert_eq!(p.sign_method(), SignMethod::HmacSha256);
    assert_eq!(
        p.others,
        others(&[
            ("_v", "sdk-c-3.0.1"),
            ("lan", "C"),
            ("gw", "0"),
            ("ext", "0")
        ])
    );
}

#[test]
fn link_sdk_4_form_with_trailing_comma() {
    let p = ClientIdParams::parse(
        "a1pk.dev|timestamp=2524608000000,_ss=1,_v=4.1.0,securemode=2,signmethod=hmacsha256,\
         ext=3,|",
    )
    .unwrap();
    assert!(p.trailing_comma);
    assert_eq!(p.other("ext"), Some("3"));
    assert!(p.to_string().ends_with(",ext=3,|"));
}

#[rstest]
#[case::tls_guider("x|securemode=-1,signmethod=hmacsha1|", -1)]
#[case::connwl("x.y|securemode=-2,authType=connwl|", -2)]
#[case::itls("x|securemode=8,signmethod=hmacsha256|", 8)]
fn any_securemode(#[case] id: &str, #[case] mode: i32) {
    assert_eq!(ClientIdParams::parse(id).unwrap().securemode, Some(mode));
}

#[rstest]
#[case::plain_mqtt_id("device2", ClientIdProblem::NoParams)]
#[case::unterminated(
    "device2|securemode=3,signmethod=hmacsha1",
    ClientIdProblem::Unterminated
)]
#[case::seed002_stray_lf(
    "device2|securemode=3,signmethod=hmacsha1|\n",
    ClientIdProblem::TrailingText("\n".into())
)]
#[case::text_after(
    "device2|securemode=3|extra",
    ClientIdProblem::TrailingText("extra".into())
)]
#[case::empty_head("|securemode=3|", ClientIdProblem::EmptyHead)]
#[case::control_in_head("dev\tice|securemode=3|", ClientIdProblem::ControlCharacter { ch: '\t', at: 3 })]
#[case::double_comma("d|securemode=3,,signmethod=hmacsha1|", ClientIdProblem::EmptyParam(2))]
#[case::leading_comma("d|,securemode=3|", ClientIdProblem::EmptyParam(1))]
#[case::only_comma("d|,|", ClientIdProblem::EmptyParam(1))]
#[case::no_equals("d|securemode|", ClientIdProblem::ParamWithoutValue("securemode".into()))]
#[case::no_name("d|=3|", ClientIdProblem::EmptyParamName("=3".into()))]
#[case::twice(
    "d|securemode=3,securemode=2|",
    ClientIdProblem::DuplicateParam("securemode".into())
)]
#[case::securemode_text("d|securemode=tcp|", ClientIdProblem::BadSecuremode("tcp".into()))]
#[case::sha512(
    "d|signmethod=hmacsha512|",
    ClientIdProblem::UnsupportedSignMethod("hmacsha512".into())
)]
#[case::timestamp_text("d|timestamp=now|", ClientIdProblem::BadTimestamp("now".into()))]
#[case::timestamp_empty("d|timestamp=|", ClientIdProblem::BadTimestamp("".into()))]
fn malformed(#[case] id: &str, #[case] problem: ClientIdProblem) {
    let err = ClientIdParams::parse(id).unwrap_err();
    assert_eq!(err.problem, problem);
    assert_eq!(err.client_id, id);
    assert!(err.to_string().starts_with("parse client id "), "{err}");
}
