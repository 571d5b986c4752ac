//! The pinned tools of `.ci/` the bench runs beside the stores (Django's python,
//! `valkey-server`): the path an environment variable names, else the last line a
//! `.ci/` script prints (the scripts install the tool on first use).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `$variable` when set and not empty, else the last line `.ci/<script>` prints.
///
/// # Errors
///
/// A message when the script cannot run, fails or prints nothing.
pub fn ci_tool(variable: &str, script: &str) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
        return Ok(path.into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.ci")
        .join(script);
    let out = Command::new(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", script.display(), out.status));
    }
    let printed = String::from_utf8_lossy(&out.stdout);
    match printed.lines().last().map(str::trim) {
        Some(path) if !path.is_empty() => Ok(path.into()),
        _ => Err(format!("{} printed no path", script.display())),
    }
}
