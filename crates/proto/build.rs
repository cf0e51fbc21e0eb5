//! Compiles `proto/mirage/v1/*.proto` into Rust with prost and tonic.
//!
//! No system `protoc` is needed: when `PROTOC` is unset the vendored binary is handed to
//! prost-build through its `Config` (setting the variable with `std::env::set_var` would be
//! `unsafe` in edition 2024, which the workspace forbids).

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let proto_dir = proto_root.join("mirage/v1");

    println!("cargo:rerun-if-changed={}", proto_dir.display());
    println!("cargo:rerun-if-env-changed=PROTOC");

    let protos = proto_files(&proto_dir)?;

    let mut config = tonic_prost_build::Config::new();
    if std::env::var_os("PROTOC").is_none() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    }

    // Cargo sets CARGO_FEATURE_<NAME> for the features enabled on this package.
    let client = std::env::var_os("CARGO_FEATURE_CLIENT").is_some();
    let server = std::env::var_os("CARGO_FEATURE_SERVER").is_some();

    tonic_prost_build::configure()
        .build_client(client)
        .build_server(server)
        .compile_with_config(config, &protos, &[proto_root])?;
    Ok(())
}

/// The `.proto` files of the directory, sorted so the generated code is stable.
fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
