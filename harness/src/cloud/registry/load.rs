//! Reading a devices directory into a [`DeviceRegistry`]: the walk, the YAML parse with
//! file:line:column errors, and the naming rule (path under the directory, no extension).

use std::path::{Path, PathBuf};

use super::{Device, DeviceFileError, DeviceRegistry, DeviceSpec, RegistryError, SecretSource};

pub(super) fn load_dir(dir: &Path) -> Result<DeviceRegistry, RegistryError> {
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|(path, source)| RegistryError::ReadDir { path, source })?;
    files.sort();

    let mut registry = DeviceRegistry::default();
    let mut errors = Vec::new();
    for path in files {
        let name = device_name(dir, &path);
        match read_device(&path, name) {
            Ok(device) => {
                if let Err(e) = registry.insert(device) {
                    errors.push(e);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(registry)
    } else {
        Err(RegistryError::Files(errors))
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), (PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_owned(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| (dir.to_owned(), e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // metadata() follows symlinks, so a linked-in directory of real devices works.
        let meta = std::fs::metadata(&path).map_err(|e| (path.clone(), e))?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// `<dir>/aliyun/device2.yaml` → `aliyun/device2`, with `/` on every OS.
fn device_name(dir: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(dir).unwrap_or(path).with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

fn read_device(path: &Path, name: String) -> Result<Device, DeviceFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| DeviceFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let spec: DeviceSpec = serde_yaml::from_str(&text).map_err(|e| yaml_error(path, &e))?;
    let mut device = spec.0;
    device.name = name;
    device.path = path.to_owned();
    if let SecretSource::File(file) = &mut device.secret {
        if file.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            *file = base.join(&*file);
        }
    }
    Ok(device)
}

/// serde_yaml appends " at line L column C" to its message; the position moves into the
/// `path:line:column` prefix instead so every error reads the same way.
fn yaml_error(path: &Path, e: &serde_yaml::Error) -> DeviceFileError {
    let message = e.to_string();
    match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            DeviceFileError::Yaml {
                path: path.to_owned(),
                line: loc.line(),
                column: loc.column(),
                message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
            }
        }
        None => DeviceFileError::YamlNoLocation {
            path: path.to_owned(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_paths_without_extension() {
        let dir = Path::new("/x/devices");
        assert_eq!(
            device_name(dir, Path::new("/x/devices/aliyun/device2.yaml")),
            "aliyun/device2"
        );
        assert_eq!(
            device_name(dir, Path::new("/x/devices/onenet/657077.yml")),
            "onenet/657077"
        );
    }
}
