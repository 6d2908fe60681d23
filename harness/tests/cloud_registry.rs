//! The device registry: the seeds' devices under `fixtures/devices/`, secrets from the
//! environment and from files, and bad files reported with file:line:column.

use std::path::{Path, PathBuf};

use athil::cloud::{
    DeviceFileError, DeviceRegistry, DeviceStatus, Endpoint, OneNetAuth, Platform, RegistryError,
    SecretError, SecretSource, SignMethod,
};

fn devices_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/devices")
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn file_errors(err: RegistryError) -> Vec<DeviceFileError> {
    match err {
        RegistryError::Files(errors) => errors,
        other => panic!("expected file errors, got {other}"),
    }
}

#[test]
fn seed_devices_load() {
    let reg = DeviceRegistry::load_dir(devices_dir()).unwrap();
    let names: Vec<&str> = reg.names().collect();
    assert_eq!(
        names,
        [
            "aliyun/Air601",
            "aliyun/LY-1",
            "aliyun/STC15",
            "aliyun/device2",
            "aliyun/retired-lamp",
            "onenet/657077",
            "onenet/mqtts-test-device"
        ]
    );

    let d = reg.get("aliyun/device2").unwrap();
    assert_eq!(d.platform, Platform::Aliyun);
    assert_eq!(
        (d.product_key.as_str(), d.device_name.as_str()),
        ("a1ndPQHcX7f", "device2")
    );
    assert_eq!(
        d.secret().unwrap().expose(),
        "1448e1c58996469449813ed68e3b0fed"
    );
    assert_eq!(d.status, DeviceStatus::Enabled);
    assert_eq!(
        d.endpoint().host(),
        "a1ndPQHcX7f.iot-as-mqtt.cn-shanghai.aliyuncs.com"
    );
    assert_eq!(
        reg.find_aliyun("a1ndPQHcX7f", "device2")
            .map(|d| d.name.as_str()),
        Some("aliyun/device2")
    );
    assert!(reg.find_aliyun("device2", "a1ndPQHcX7f").is_none());

    let air = reg.get("aliyun/Air601").unwrap();
    assert_eq!(
        air.endpoint(),
        Endpoint::Instance {
            instance_id: "iot-ksf114514".into()
        }
    );
    let stc = reg.get("aliyun/STC15").unwrap();
    assert_eq!(
        stc.client_id_params(SignMethod::HmacSha1)
            .unwrap()
            .to_string(),
        "10001|securemode=3,signmethod=hmacsha1|"
    );

    let one = reg.get("onenet/657077").unwrap();
    assert_eq!(one.platform, Platform::Onenet);
    assert_eq!(one.onenet_auth, OneNetAuth::Legacy);
    assert_eq!(
        reg.find_onenet("20190156", "657077")
            .map(|d| d.name.as_str()),
        Some("onenet/657077")
    );
    // An Alibaba Cloud lookup never returns a OneNET device.
    assert!(reg.find_aliyun("20190156", "657077").is_none());
}

#[test]
fn debug_of_the_registry_hides_secrets() {
    let reg = DeviceRegistry::load_dir(devices_dir()).unwrap();
    let shown = format!("{reg:?}");
    assert!(shown.contains("a1ndPQHcX7f"), "the dump is not empty");
    for secret in [
        "1448e1c5899646",
        "ksf1145141919810",
        "d8b9915513b05d",
        "bc0834e2beeb03",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
}

#[test]
fn unknown_field_is_reported_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "aliyun/typo.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: dn\ndevice_secert: x\n",
    );
    let errors = file_errors(DeviceRegistry::load_dir(dir.path()).unwrap_err());
    assert_eq!(errors.len(), 1);
    match &errors[0] {
        DeviceFileError::Yaml {
            path: p,
            line,
            column,
            message,
        } => {
            assert_eq!(p, &path);
            assert_eq!((*line, *column), (4, 1));
            assert!(
                message.starts_with("unknown field `device_secert`"),
                "{message}"
            );
            assert!(!message.contains(" at line "), "{message}");
        }
        other => panic!("expected a YAML error, got {other}"),
    }
    let shown = errors[0].to_string();
    assert!(shown.contains("typo.yaml:4:1`"), "{shown}");
}

#[test]
fn broken_yaml_and_bad_values_are_all_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: [unclosed\n",
    );
    write(
        dir.path(),
        "b.yaml",
        "platform: azure\nproduct_key: pk\ndevice_name: dn\ndevice_secret: s\n",
    );
    write(
        dir.path(),
        "c.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: dn\n",
    );
    write(dir.path(), "notes.txt", "not a device");
    let errors = file_errors(DeviceRegistry::load_dir(dir.path()).unwrap_err());
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{shown:#?}");
    let positions: Vec<(usize, usize)> = errors
        .iter()
        .map(|e| match e {
            DeviceFileError::Yaml { line, column, .. } => (*line, *column),
            other => panic!("expected a YAML error, got {other}"),
        })
        .collect();
    // a: libyaml reads the unclosed flow sequence as a sequence, not a name;
    // b: the bad enum value; c: the check across fields, reported where the mapping starts.
    assert_eq!(positions[0], (3, 14), "{shown:#?}");
    assert_eq!(positions[1], (1, 11), "{shown:#?}");
    assert_eq!(positions[2], (1, 1), "{shown:#?}");
    assert!(shown[1].contains("unknown variant `azure`"), "{}", shown[1]);
    assert!(
        shown[2].contains(
            "give exactly one of device_secret, device_secret_env and device_secret_file"
        ),
        "{}",
        shown[2]
    );
}

#[test]
fn empty_values_and_bad_client_ids_point_at_the_field() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "empty.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: \"\"\ndevice_secret: s\n",
    );
    write(
        dir.path(),
        "id.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: dn\ndevice_secret: s\n\
         client_id: \"dn|securemode=3,signmethod=hmacsha512|\"\n",
    );
    // Unquoted numbers are read as text, as OneNET's numeric ids need.
    write(
        dir.path(),
        "number.yaml",
        "platform: onenet\nproduct_key: 20190156\ndevice_name: 657077\ndevice_secret: x\n",
    );
    let errors = file_errors(DeviceRegistry::load_dir(dir.path()).unwrap_err());
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{shown:#?}");
    assert!(
        !shown.iter().any(|e| e.contains("number.yaml")),
        "{shown:#?}"
    );
    assert!(
        shown[0].contains("empty.yaml:3:14`: device_name: the value must not be empty"),
        "{}",
        shown[0]
    );
    assert!(shown[1].contains("id.yaml:5:12`"), "{}", shown[1]);
    assert!(
        shown[1].contains("signmethod \"hmacsha512\""),
        "{}",
        shown[1]
    );
}

#[test]
fn two_secret_sources_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "d.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: dn\ndevice_secret: s\ndevice_secret_env: V\n",
    );
    let errors = file_errors(DeviceRegistry::load_dir(dir.path()).unwrap_err());
    assert!(
        errors[0].to_string().contains("exactly one of"),
        "{}",
        errors[0]
    );
}

#[test]
fn duplicate_devices_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = "platform: aliyun\nproduct_key: pk\ndevice_name: dn\ndevice_secret: s\n";
    write(dir.path(), "one.yaml", text);
    write(dir.path(), "two.yaml", text);
    write(
        dir.path(),
        "sub/one.yml",
        text.replace("dn", "other").as_str(),
    );
    write(
        dir.path(),
        "sub/one.yaml",
        text.replace("dn", "third").as_str(),
    );
    let errors = file_errors(DeviceRegistry::load_dir(dir.path()).unwrap_err());
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{shown:#?}");
    assert!(
        matches!(&errors[0], DeviceFileError::DuplicateName { name, .. } if name == "sub/one"),
        "{shown:#?}"
    );
    assert!(
        matches!(&errors[1], DeviceFileError::DuplicateDevice { other, .. } if other == "one"),
        "{shown:#?}"
    );
}

#[test]
fn secret_from_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let var = "ATHIL_TEST_REGISTRY_SECRET_7F3A";
    write(
        dir.path(),
        "real.yaml",
        &format!("platform: aliyun\nproduct_key: pk\ndevice_name: dn\ndevice_secret_env: {var}\n"),
    );
    let reg = DeviceRegistry::load_dir(dir.path()).unwrap();
    let d = reg.get("real").unwrap();
    assert_eq!(d.secret, SecretSource::Env(var.into()));
    // Only this test touches this variable, so setting it cannot race another test.
    std::env::remove_var(var);
    match d.secret() {
        Err(SecretError::EnvUnset { var: v, device }) => {
            assert_eq!((v.as_str(), device.as_str()), (var, "real"))
        }
        other => panic!("expected EnvUnset, got {other:?}"),
    }
    std::env::set_var(var, "s3cr3t-from-env");
    assert_eq!(d.secret().unwrap().expose(), "s3cr3t-from-env");
    std::env::remove_var(var);
}

#[test]
fn secret_from_file_relative_to_the_yaml() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "aliyun/keys/dn.secret", "  s3cr3t-from-file\n");
    write(
        dir.path(),
        "aliyun/dn.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: dn\ndevice_secret_file: keys/dn.secret\n",
    );
    write(
        dir.path(),
        "aliyun/missing.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: gone\ndevice_secret_file: keys/none\n",
    );
    write(dir.path(), "aliyun/keys/empty.secret", "\n");
    write(
        dir.path(),
        "aliyun/empty.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: e\ndevice_secret_file: keys/empty.secret\n",
    );
    let reg = DeviceRegistry::load_dir(dir.path()).unwrap();
    assert_eq!(
        reg.get("aliyun/dn").unwrap().secret().unwrap().expose(),
        "s3cr3t-from-file"
    );
    assert!(matches!(
        reg.get("aliyun/missing").unwrap().secret(),
        Err(SecretError::ReadFile { .. })
    ));
    assert!(matches!(
        reg.get("aliyun/empty").unwrap().secret(),
        Err(SecretError::Empty { .. })
    ));
}

#[test]
fn missing_directory_is_named() {
    let err = DeviceRegistry::load_dir("/nonexistent/athil/devices").unwrap_err();
    assert!(matches!(err, RegistryError::ReadDir { .. }));
    assert!(
        err.to_string().contains("/nonexistent/athil/devices"),
        "{err}"
    );
}

#[test]
fn status_and_auth_are_read() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "off.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: dn\ndevice_secret: s\nstatus: disabled\n",
    );
    write(
        dir.path(),
        "tok.yaml",
        "platform: onenet\nproduct_key: \"238322\"\ndevice_name: mqtts-test-device\n\
         device_secret: EnW4T71eIE55xOIQMN6pFMKuqel5T5HTzsGJRPiDhlM=\nauth: token\n",
    );
    write(
        dir.path(),
        "bad.yaml",
        "platform: aliyun\nproduct_key: pk\ndevice_name: x\ndevice_secret: s\nauth: token\n",
    );
    let errors = file_errors(DeviceRegistry::load_dir(dir.path()).unwrap_err());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("OneNET devices only"),
        "{}",
        errors[0]
    );

    std::fs::remove_file(dir.path().join("bad.yaml")).unwrap();
    let reg = DeviceRegistry::load_dir(dir.path()).unwrap();
    assert_eq!(reg.get("off").unwrap().status, DeviceStatus::Disabled);
    assert_eq!(reg.get("tok").unwrap().onenet_auth, OneNetAuth::Token);
}

/// A OneNET device file is checked for its login: Alibaba Cloud keys, a legacy id that is not
/// the number OneNET assigns, a token key that is not base64. Each error names the file and
/// the position of the device's mapping, every bad file at once.
#[test]
fn onenet_files_are_checked_for_their_login() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "region.yaml",
        "platform: onenet\nproduct_key: \"1\"\ndevice_name: \"2\"\ndevice_secret: x\n\
         region: cn-shanghai\n",
    );
    write(
        dir.path(),
        "named.yaml",
        "platform: onenet\nproduct_key: \"1\"\ndevice_name: lamp\ndevice_secret: x\nauth: legacy\n",
    );
    write(
        dir.path(),
        "key.yaml",
        "platform: onenet\nproduct_key: p\ndevice_name: lamp\ndevice_secret: \"not base64!\"\n\
         auth: token\n",
    );
    write(
        dir.path(),
        "fine.yaml",
        "platform: onenet\nproduct_key: p\ndevice_name: lamp\ndevice_secret: a2V5\nauth: token\n",
    );
    let errors = file_errors(DeviceRegistry::load_dir(dir.path()).unwrap_err());
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{shown:#?}");
    for (e, (file, words)) in shown.iter().zip([
        ("key.yaml:1:1`", "device_secret is not base64"),
        ("named.yaml:1:1`", "device_name `lamp` is not a number"),
        (
            "region.yaml:1:1`",
            "`region` applies to Alibaba Cloud devices only",
        ),
    ]) {
        assert!(e.contains(file) && e.contains(words), "{e}");
    }
}
