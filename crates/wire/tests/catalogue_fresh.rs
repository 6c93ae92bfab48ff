//! The committed catalogue is what the pinned FalconPy generates: regenerate it (through the project's
//! own venv script) and fail when the committed copy differs.

use std::path::Path;
use std::process::Command;

#[test]
fn the_committed_catalogue_is_what_the_pinned_falconpy_generates() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(repo.join("scripts/catalogue.sh"))
        .arg("--check")
        .arg("--report")
        .output()
        .expect("scripts/catalogue.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "catalogue differs from the pinned FalconPy's:\n{stdout}\n{stderr}");
    // The report names the counts the embedded catalogue must agree with.
    let catalogue = talon_wire::catalogue::catalogue();
    assert!(stdout.contains(&format!("operations {}", catalogue.operations().len())), "{stdout}");
}
